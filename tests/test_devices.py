"""The CPU allocator setting of the fast feature path, and which hardware trains under bf16 autocast."""

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


_CONV = """
import sys, torch
torch.set_num_threads(1)
torch.manual_seed(0)
nn = torch.nn
conv = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.SiLU(), nn.Conv2d(32, 16, 3, padding=1))
x = torch.randn(8, 16, 28, 28)
y = conv(x)
y.square().mean().backward()
g = torch.cat([p.grad.flatten() for p in conv.parameters()])
torch.save({"y": y.detach(), "g": g}, sys.argv[1])
"""


@pytest.mark.slow
def test_a_onednn_isa_cap_changes_float_results_by_rounding_only(tmp_path):
    """The float-spread stand-in of docs/workflow.md: with oneDNN capped at AVX the same convolutions give
    other floats (other kernels, as on another CPU kind), but only at rounding level."""
    import os

    import torch

    from advdiff.devices import cpu_flags

    if "avx2" not in cpu_flags():
        pytest.skip("the cap to AVX picks other kernels only where the CPU has AVX2 or more")
    out = {}
    for cap in (None, "AVX"):
        env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")}
        if cap:
            env["ONEDNN_MAX_CPU_ISA"] = cap
        path = tmp_path / f"{cap}.pt"
        subprocess.run([sys.executable, "-c", _CONV, str(path)], check=True, env=env, timeout=300)
        out[cap] = torch.load(path)
    for key in ("y", "g"):
        a, b = out[None][key], out["AVX"][key]
        diff = float((a - b).abs().max())
        assert 0 < diff <= 1e-5 * float(a.abs().max()), (key, diff)


@pytest.mark.parametrize("native", [True, False])
def test_bf16_autocast_only_where_bf16_is_native(monkeypatch, native):
    """amp auto and true compute in bf16 on a CPU with native bf16 only; false never does."""
    import torch

    from advdiff import devices

    monkeypatch.setattr(devices, "native_bf16", lambda: native)
    cpu = torch.device("cpu")
    assert devices.bf16_autocast("auto", cpu) is native and devices.bf16_autocast(True, cpu) is native
    assert devices.bf16_autocast(False, cpu) is False
