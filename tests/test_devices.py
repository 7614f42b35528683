"""The CPU allocator setting of the fast feature path."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from advdiff.devices import set_cpu_allocator
from advdiff.errors import ConfigError

_FAULTS = """
import json, resource, sys, torch
from advdiff.devices import set_cpu_allocator
ok = set_cpu_allocator(sys.argv[1]) if sys.argv[1] != "none" else None
def layers():  # feature maps of tens of MiB, made and freed as a network's forward pass does
    maps = [torch.empty(size << 20, dtype=torch.uint8).fill_(1) for size in (48, 40, 56)]
    del maps
layers()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    layers()
print(json.dumps({"ok": ok, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def _faults(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is a Linux setting")
def test_reuse_keeps_large_blocks_so_they_are_not_faulted_in_again():
    plain, reuse = _faults("none"), _faults("reuse")
    assert reuse["ok"] is True
    pages = 5 * ((48 + 40 + 56) << 20) // 4096
    assert plain["faults"] > 0.9 * pages  # glibc maps each block afresh: every page faults in again
    assert reuse["faults"] < 0.5 * plain["faults"]  # most blocks come back from the heap, already touched


def test_unknown_allocator_mode_is_named():
    with pytest.raises(ConfigError, match=r"allocator.*'fast'.*glibc.*reuse"):
        set_cpu_allocator("fast")
