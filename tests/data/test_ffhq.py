"""FFHQ preparation from a local copy: count, checksums, resizing, zip sources, staging, re-checks."""

import hashlib
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from advdiff.cli import main
from advdiff.data import DataError, load_dataset
from advdiff.data.ffhq import MANIFEST, prepare_ffhq, verify_prepared


def _copy(folder, n=6, side=32, sub=True):
    """A fake FFHQ copy: smooth RGB squares named like FFHQ's, split over subfolders like the official one."""
    rng = np.random.default_rng(0)
    for i in range(n):
        where = folder / (f"{i // 4 * 1000:05d}" if sub else "")
        where.mkdir(parents=True, exist_ok=True)
        grad = np.linspace(0, 255, side, dtype=np.float32)
        img = np.stack(
            [np.add.outer(grad, grad) / 2, np.full((side, side), 20.0 * i), rng.uniform(0, 255, (side, side))], axis=-1
        ).astype(np.uint8)
        Image.fromarray(img).save(where / f"{i:05d}.png")
    return folder


def test_a_folder_is_prepared_resized_and_read_by_the_sweeps_loader(tmp_path):
    src = _copy(tmp_path / "images1024x1024", side=32)
    out = tmp_path / "ffhq"
    summary = prepare_ffhq(src, out, size=16, expect=6, progress=False)
    assert summary["count"] == 6 and summary["resized"] == 6 and summary["resample"] == "PIL Lanczos"
    assert sorted(p.name for p in out.glob("*.png")) == [f"{i:05d}.png" for i in range(6)]
    assert verify_prepared(out)["manifest_sha256"] == summary["manifest_sha256"]
    data = load_dataset("folder", root=out, size=16, channels=3).tensor()
    assert data.shape == (6, 3, 16, 16)
    assert prepare_ffhq(src, out, size=16, expect=6, progress=False) == summary  # prepared: nothing to do
    assert not list(tmp_path.glob(".*partial"))


def test_a_zip_of_thumbnails_at_the_right_size_is_copied_without_resampling(tmp_path):
    src = _copy(tmp_path / "thumbnails128x128", side=16)
    archive = tmp_path / "thumbs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(src.rglob("*.png")):
            zf.write(p, f"thumbnails128x128/{p.relative_to(src).as_posix()}")
    summary = prepare_ffhq(archive, tmp_path / "out", size=16, expect=6, progress=False)
    assert summary["kind"] == "zip" and summary["resized"] == 0
    original = np.asarray(Image.open(src / "00000" / "00002.png"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "00002.png")), original)


def test_wrong_count_bad_checksums_and_damaged_files_are_refused(tmp_path):
    src = _copy(tmp_path / "src", side=16)
    with pytest.raises(DataError, match="holds 6 images, expected 70000"):
        prepare_ffhq(src, tmp_path / "a", size=16, progress=False)
    meta = {
        str(i): {
            "thumbnail": {
                "file_path": f"thumbnails128x128/{i // 1000 * 1000:05d}/{i:05d}.png",
                "file_md5": hashlib.md5((src / f"{i // 4 * 1000:05d}" / f"{i:05d}.png").read_bytes()).hexdigest(),
            }
        }
        for i in range(6)
    }
    meta["3"]["thumbnail"]["file_md5"] = "0" * 32
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    # 16 px images count as 1024 px ones here (only 128 px are thumbnails): no entry matches, all six fail
    with pytest.raises(DataError, match="6 of 6 images do not match the MD5"):
        prepare_ffhq(src, tmp_path / "b", size=16, expect=6, metadata=tmp_path / "meta.json", progress=False)
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".*partial"))  # nothing half-written
    out = tmp_path / "c"
    prepare_ffhq(src, out, size=16, expect=6, progress=False)
    (out / "00004.png").write_bytes(b"changed")
    with pytest.raises(DataError, match="1 of 6 files differ"):
        verify_prepared(out)
    with pytest.raises(DataError, match="different preparation"):
        prepare_ffhq(src, out, size=8, expect=6, progress=False)


def test_checksums_of_official_thumbnails_are_checked_against_the_metadata(tmp_path):
    src = _copy(tmp_path / "thumbnails128x128", n=3, side=128, sub=False)
    md5 = {i: hashlib.md5((src / f"{i:05d}.png").read_bytes()).hexdigest() for i in range(3)}
    meta = {
        str(i): {
            "thumbnail": {"file_path": f"thumbnails128x128/00000/{i:05d}.png", "file_md5": md5[i]},
            "image": {"file_path": f"images1024x1024/00000/{i:05d}.png", "file_md5": "f" * 32},
        }
        for i in range(3)
    }
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    ok = prepare_ffhq(src, tmp_path / "ok", expect=3, metadata=tmp_path / "meta.json", progress=False)
    assert ok["metadata_checked"] and ok["resized"] == 0 and len((tmp_path / "ok" / MANIFEST).read_text().split()) == 6
    meta["1"]["thumbnail"]["file_md5"] = "0" * 32
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"1 of 3 images do not match the MD5.*00001.png"):
        prepare_ffhq(src, tmp_path / "bad", expect=3, metadata=tmp_path / "meta.json", progress=False)


def test_the_command_line_says_what_it_did_and_what_was_wrong(tmp_path, capsys):
    src = _copy(tmp_path / "src", side=16)
    assert (
        main(
            [
                "prepare",
                "ffhq",
                "--source",
                str(src),
                "--out",
                str(tmp_path / "o"),
                "--size",
                "16",
                "--expect",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "6 images in" in capsys.readouterr().out
    assert main(["prepare", "ffhq", "--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "p")]) == 2
    assert "not a folder or a zip file" in capsys.readouterr().err


@pytest.mark.workflow
def test_the_workflow_prepares_ffhq_before_the_sweep_reads_it(tmp_path):
    """`prepare.ffhq.source` set: the sweep's data check waits for `prepare_ffhq`, which writes the folder."""
    from tests.workflow.helpers import ROOT, snakemake

    src = _copy(tmp_path / "copy", side=16)
    cfg = tmp_path / "ffhq.yaml"
    out = tmp_path / "ffhq16"
    cfg.write_text(
        f"prepare: {{ffhq: {{source: {src}, out: {out}, expect: 6, size: 16}}}}\n"
        f"sweep: {{dataset: {{name: folder, root: {out}, size: 16, channels: 3}}}}\n"
    )
    plan = snakemake("-n", "check_data", "--configfile", str(ROOT / "config" / "config.yaml"), str(cfg), cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert "rule prepare_ffhq:" in plan.stdout and "rule check_data:" in plan.stdout
    res = snakemake("prepare_ffhq", "--configfile", str(ROOT / "config" / "config.yaml"), str(cfg), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert verify_prepared(tmp_path / "ffhq16")["count"] == 6


def test_figures_of_a_flat_folder_use_its_held_out_images(tmp_path):
    """A flat folder (FFHQ) has no test split: the sweep's trajectory figures take its held-out images."""
    import torch

    from advdiff.data import preview_images

    flat = _copy(tmp_path / "flat", n=5, side=16, sub=False)
    x, split = preview_images("folder", root=flat, size=16, channels=3, n=2, holdout=2)
    held = load_dataset("folder", root=flat, split="test", size=16, channels=3, holdout=2)
    assert split == "test" and torch.equal(x, held.tensor())
    x, split = preview_images("folder", root=flat, size=16, channels=3, n=2, holdout=0)  # nothing held out
    assert split == "train" and x.shape == (2, 3, 16, 16)
    _copy(tmp_path / "split" / "train", n=3, side=16, sub=False)
    _copy(tmp_path / "split" / "test", n=3, side=16, sub=False)
    assert preview_images("folder", root=tmp_path / "split", size=16, channels=3, n=2)[1] == "test"
    with pytest.raises(DataError, match="no 'test' subfolder"):
        load_dataset("folder", root=flat, split="test", size=16)  # the library holds nothing out unless asked


@pytest.mark.parametrize(
    "damage, message",
    [
        ("unreadable", r"00004.png is not a readable image"),
        ("oblong", r"00004.png is 32 x 24, not square"),
    ],
)
def test_an_unreadable_or_oblong_image_stops_the_copy_and_leaves_nothing(tmp_path, damage, message):
    src = _copy(tmp_path / "src", side=32)
    bad = src / "01000" / "00004.png"
    if damage == "unreadable":
        bad.write_bytes(b"not a png")
    else:
        Image.new("RGB", (32, 24)).save(bad)
    with pytest.raises(DataError, match=message):
        prepare_ffhq(src, tmp_path / "out", size=16, expect=6, progress=False)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".*partial"))
