"""The ``advdiff`` command line: thin subcommands over the library (the workflow calls the same functions)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from advdiff.errors import AdvdiffError, ConfigError, bad_value
from advdiff.files import atomic_write_text
from advdiff.preflight import BENCH_LBM_LIMITS

log = logging.getLogger("advdiff")


def _write_json(path: str | None, data: dict[str, Any]) -> None:
    if not path:
        return
    target = atomic_write_text(path, json.dumps(data, indent=2) + "\n")  # a crash never leaves half a file
    log.info("wrote %s", target)


def _writable_folder(key: str, folder: str | Path) -> None:
    """Create ``folder`` if needed and check that a file can be written in it, before any work starts."""
    import tempfile

    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{key}={str(path)!r} is not allowed: expected a folder this process can create and "
            f"write ({exc.strerror or exc})",
            key,
        ) from None


def _cmd_bench_lbm(args: argparse.Namespace) -> int:
    from advdiff.bench.lbm import bench_lbm

    for key, (low, high) in BENCH_LBM_LIMITS.items():  # too small: bench_lbm names the shape
        if getattr(args, key) > high:
            raise bad_value(f"--{key}", getattr(args, key), f"an integer from {low} to {high}")
    shape = (args.batch, args.channels, args.size, args.size)
    result = bench_lbm(
        args.backend,
        shape,
        collision=args.collision,
        boundary=args.boundary,
        steps=args.steps,
        numpy_steps=args.numpy_steps,
        repeats=args.repeats,
    )
    rows = [
        ("backend", result["backend"] + (f" ({result['threads']} threads)" if "threads" in result else "")),
        ("shape (B, C, H, W)", "x".join(map(str, result["shape"])) + f" {result['dtype']}"),
        ("collision / boundary", f"{result['collision']} / {result['boundary']}"),
        ("throughput", f"{result['mlups']:.1f} MLUPS"),
        ("copy bandwidth", f"{result['copy_gb_s']:.1f} GB/s (read + written)"),
        ("roofline", f"{result['roofline_mlups']:.1f} MLUPS ({result['bytes_per_update']} B/update)"),
        ("roofline ratio", f"{result['roofline_ratio']:.2f}"),
        ("numpy reference", f"{result['numpy_mlups']:.2f} MLUPS"),
        ("speed-up vs numpy", f"{result['speedup_vs_numpy']:.0f}x"),
        ("machine", f"{result['machine']['cpu']}, {result['machine']['cores']} cores"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    _write_json(args.json, result)
    return 0


def _cmd_analyze_operator(args: argparse.Namespace) -> int:
    from advdiff.reporting.operator import analyze_operator, write_operator_report

    _set_threads(args.threads)
    if args.quick:
        summary = analyze_operator(
            args.out,
            peclets=(0.06, 1.0),
            seeds=2,
            n_images=4,
            seeds_128=1,
            n_images_128=1,
            data_root=args.data_root,
            backend=args.backend,
            include_128=False,
        )
    else:
        summary = analyze_operator(
            args.out, seeds=args.seeds, n_images=args.images, data_root=args.data_root, backend=args.backend
        )
    report = write_operator_report(
        summary, args.report or Path(args.out) / "operator.md", args.figures or Path(args.out) / "figures"
    )
    print(f"operator report: {report}")
    return 0


def _cmd_validate_lbm(args: argparse.Namespace) -> int:
    from advdiff.lbm.validation import validate

    summary = validate(args.backend, args.out, tuple(args.collision))
    for collision, case in summary["cases"].items():
        print(f"[{collision}]")
        hill = ", ".join(f"N={n}: {e:.2e}" for n, e in case["gaussian_relative_l2"].items())
        print(f"  gaussian hill rel. L2    {hill} (observed order {case['gaussian_observed_order']:.2f})")
        above = case["heat_sigma_above_tolerance"]
        where = f"; > {case['heat_tolerance']:g} for σ in [{above[0]:.2f}, {above[1]:.2f}] px" if above else ""
        print(
            f"  Pe=0 vs DCT (interior)   worst {case['heat_max']:.2e} at σ = {case['heat_max_sigma']:.2f} px, "
            f"worst for σ >= 1 px {case['heat_max_sigma_ge_1px']:.2e}{where}"
        )
        print(f"  mass drift (1000 steps)  {case['mass_max_relative_drift']:.1e}")
    print(f"wrote {args.out}/lbm_validation.json, heat_vs_lbm.png, heat_error_by_level.png, gaussian_convergence.png")
    return 0


def _family_params(args: argparse.Namespace, name: str) -> dict[str, Any]:
    from advdiff.corruptions import known_params

    common = {"K": args.K, "sigma_min": args.sigma_min, "sigma_max": args.sigma_max}
    params = {k: v for k, v in common.items() if v is not None and k in known_params(name)}
    if name == "advdiff":
        params.update(
            peclet=args.peclet,
            reynolds=args.reynolds,
            collision=args.collision,
            divergence_free=args.divergence_free,
            law=args.law,
            backend=args.backend,
            intensity_map=args.intensity_map,
            variant=args.variant,
        )
    return params


def _cmd_corrupt(args: argparse.Namespace) -> int:
    from advdiff.corruptions import build, families
    from advdiff.data import load_dataset
    from advdiff.reporting.family_figures import corruption_figures

    names = list(families()) if "all" in args.family else list(dict.fromkeys(args.family))
    _writable_folder("--out", args.out)
    data = load_dataset(
        args.dataset,
        root=args.data_root,
        split=args.split,
        size=args.size,
        channels=args.channels,
        limit=args.n,
        root_key="--data-root",
    )
    x0 = data.tensor(args.n)
    built = {name: build(name, **_family_params(args, name)) for name in names}
    if "advdiff" in built:
        built["advdiff"].progress = True
    summary = corruption_figures(built, x0, args.out, seed=args.seed)
    for name, info in summary["families"].items():
        extra = ""
        if "schedule" in info:
            s = info["schedule"]
            extra = (
                f", Fo_max {s['fourier_max']:.3g}, {s['total_steps']} LBM steps, "
                f"transport bound {s['transport_bound_px']:.3g} px (upper bound, sum of U_n)"
            )
        print(f"{name:<8} K={info['K']}, max channel-sum change {info['max_relative_channel_sum_change']:.1e}{extra}")
    print(f"wrote figures and corrupt.json to {args.out}")
    return 0


def _cmd_bench_corrupt(args: argparse.Namespace) -> int:
    from advdiff.bench.corrupt import bench_corrupt

    r = bench_corrupt(args.backend, args.batch_28, args.batch_128, args.peclet, args.collision)
    print(f"backend {r['backend']}, Pe {r['peclet']:g}, {r['collision']}, {r['machine']['cpu']}")
    print(
        f"28x28 grey, K 100, sigma_max 20   batch {args.batch_28:>3}: {r['s_per_image_28']:.4f} s/image "
        f"({r['speedup_vs_paper_28']:.0f}x the paper's solver)"
    )
    print(
        f"128x128 RGB, K 200, sigma_max 32  batch {args.batch_128:>3}: {r['s_per_image_128_rgb']:.3f} s/image "
        f"({r['speedup_vs_paper_128_rgb']:.0f}x the paper's solver)"
    )
    _write_json(args.json, r)
    return 0


def _set_threads(threads: int | None) -> None:
    """``--threads N``: torch's intra-op threads and the compiled kernels' OpenMP threads."""
    if threads is None:
        return
    if threads < 1:
        raise ConfigError(f"--threads={threads} is not allowed: give a whole number >= 1", "--threads")
    import torch

    torch.set_num_threads(threads)
    os.environ["ADVDIFF_NUM_THREADS"] = str(threads)


def _check_start(device: str, sampler: str | None = None, family: str | None = None) -> None:
    """Settings used late in a command (device, sampler), checked when it starts (ConfigError naming them)."""
    from advdiff.preflight import check_device, check_sampler

    check_device(device, "device")
    if family is not None:
        check_sampler(sampler, [family], "--sampler")


def _cmd_train(args: argparse.Namespace) -> int:
    from advdiff.runs import load_config, train_run

    _set_threads(args.threads)
    config = load_config(args.config, {"steps": args.steps, "device": args.device})
    _check_start(config.device)
    summary = train_run(config, args.run_dir, progress=not args.no_progress)
    print(
        f"{summary['family']}: step {summary['step']}, loss {summary['loss']}, "
        f"{summary['images_per_second']:.1f} images/s, run folder {summary['run_dir']}"
    )
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from advdiff.runs import load_config, sample_run

    _set_threads(args.threads)
    if args.out is not None:
        _writable_folder("--out (its folder)", Path(args.out).parent)
    config = load_config(args.config, {"device": args.device})
    _check_start(config.device, args.sampler, config.family)
    summary = sample_run(
        config,
        args.n,
        args.run_dir,
        sampler=args.sampler,
        seed=args.seed,
        use_ema=not args.no_ema,
        out=args.out,
        progress=not args.no_progress,
    )
    print(
        f"{summary['n']} samples ({summary['sampler']} sampler, step {summary['step']}, "
        f"{summary['images_per_second']:.2f} images/s) -> {summary['grid']}"
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from advdiff.metrics.evaluate import describe, evaluate_folders
    from advdiff.runs import evaluate_run

    _set_threads(args.threads)
    _check_start(args.device)
    common = dict(
        feature_extractor=args.feature_extractor,
        weights=args.weights,
        cache=args.cache_dir,
        use_cache=not args.no_cache,
        download=args.download_weights,
        device=args.device,
        batch_size=args.batch_size,
        prdc_k=args.k,
        kid_subsets=args.kid_subsets,
        kid_subset=args.kid_subset_size,
        seed=args.seed,
        progress=not args.no_progress,
        clean_fid=args.clean_fid,
    )
    out_path = args.out or (str(Path(args.run) / "metrics.json") if args.run is not None else None)
    if out_path is not None:  # before any sampling or scoring
        _writable_folder("--out (its folder)", Path(out_path).parent)
    if args.run is not None:
        if args.real is not None or args.fake is not None:
            raise ConfigError("--run cannot be combined with --real/--fake: give a run folder or two image folders")
        if args.n is None:
            raise ConfigError("--run needs --n N: the number of generated images to score (e.g. 1000)")
        result = evaluate_run(
            args.run,
            args.n,
            args.out,
            samples=args.samples,
            n_real=args.n_real,
            real_split=args.real_split,
            sampler=args.sampler,
            sample_seed=args.sample_seed,
            **common,
        )
        out = args.out or str(Path(args.run) / "metrics.json")
    else:
        if args.real is None or args.fake is None or args.out is None:
            raise ConfigError("evaluate needs --run DIR, or --real DIR --fake DIR --out FILE")
        result = evaluate_folders(args.real, args.fake, args.out, n_real=args.n_real, n_fake=args.n, **common)
        out = args.out
    for line in describe(result):
        print(line)
    print(f"wrote {out}")
    return 0


def _cmd_bench_train(args: argparse.Namespace) -> int:
    from advdiff.bench.train import bench_train

    r = bench_train(steps=args.steps, batch_size=args.batch_size, peclet=args.peclet, preset=args.preset)
    print(
        f"heat     {r['fp32_eager_images_per_s']:.1f} images/s fp32 eager, {r['images_per_s']:.1f} with the "
        f"default settings {r['default_settings']} (speedup {r['speedup']:.2f})"
    )
    print(f"advdiff  {r['advdiff_images_per_s']:.1f} images/s (Pe {r['peclet']:g}, pool {r['pool']})")
    print(f"ratio    {r['ratio']:.2f} (goal >= 0.7)")
    _write_json(args.json, r)
    return 0


def _cmd_bench_features(args: argparse.Namespace) -> int:
    from advdiff.bench.features import bench_features

    r = bench_features(n=args.n, batch_size=args.batch_size, repeats=args.repeats, name=args.extractor)
    m = r["machine"]
    print(f"{r['extractor']} features on {m['cpu']} ({m['cpu_kind']}, family/model {m['cpu_family_model']})")
    print(f"fp32 eager (NCHW)  {r['fp32_eager_images_per_s']:.2f} images/s")
    print(f"default            {r['images_per_s']:.2f} images/s ({r['default_settings']})")
    print(f"speedup            {r['speedup']:.2f} (features agree to {r['max_abs_diff_relative']:.1e} of their scale)")
    _write_json(args.json, r)
    return 0


def _cmd_prepare_ffhq(args: argparse.Namespace) -> int:
    from advdiff.data.ffhq import prepare_ffhq

    expect = None if args.expect == 0 else args.expect
    r = prepare_ffhq(
        args.source, args.out, size=args.size, expect=expect, metadata=args.metadata, progress=not args.no_progress
    )
    print(
        f"{r['count']} images in {args.out} ({r['resized']} resized, {r['resample']}); manifest sha256 "
        f"{r['manifest_sha256'][:16]}"
    )
    return 0


def _cmd_gpu_check(args: argparse.Namespace) -> int:
    from advdiff.gpucheck import gpu_check

    _writable_folder("--json (its folder)", Path(args.json).parent)
    r = gpu_check(
        args.json,
        backend=args.backend,
        device=args.device,
        quick=args.quick,
        steps=args.steps,
        samples=args.samples,
        paper_config=args.paper_config,
    )
    for name, stage in r["stages"].items():
        print(f"{name:<13} {stage['status']:<16} {stage['seconds']:.1f} s")
    print(f"overall: {r['status']}; wrote {args.json}")
    return 0 if r["status"] == "ok" else 1


def _cmd_info(args: argparse.Namespace) -> int:
    from advdiff import __version__
    from advdiff.lbm import available_backends

    print(f"advdiff {__version__}")
    for name, status in available_backends().items():
        print(f"  backend {name:<6} {status}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="advdiff", description=__doc__)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("info", help="version and which LBM backends can run here").set_defaults(func=_cmd_info)

    tr = sub.add_parser("train", help="train (or resume) a network for one corruption family")
    tr.add_argument("--config", required=True, help="YAML or JSON training configuration (see config/train/)")
    tr.add_argument("--run-dir", default=None, help="run folder (default results/runs/<family>-<config hash>)")
    tr.add_argument("--steps", type=int, default=None, help="override the number of training steps")
    tr.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (not part of the run's identity)")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's and OpenMP's own)")
    tr.set_defaults(func=_cmd_train)

    sa = sub.add_parser("sample", help="draw samples from a trained run")
    sa.add_argument("--config", required=True, help="the run's training configuration")
    sa.add_argument("--n", type=int, required=True, help="number of samples")
    sa.add_argument("--run-dir", default=None, help="run folder (default results/runs/<family>-<config hash>)")
    sa.add_argument("--sampler", default=None, help="ddpm, ddim, blur or heat (default: the family's)")
    sa.add_argument("--seed", type=int, default=0, help="sampling seed (per-image generators)")
    sa.add_argument("--no-ema", action="store_true", help="use the raw weights instead of the EMA")
    sa.add_argument("--out", default=None, help="PNG grid path (a .pt file of the samples is written beside it)")
    sa.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N")
    sa.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's and OpenMP's own)")
    sa.add_argument("--no-progress", action="store_true", help="no progress bar")
    sa.set_defaults(func=_cmd_sample)

    ev = sub.add_parser("evaluate", help="FID, KID, precision/recall/density/coverage and palette -> metrics.json")
    ev.add_argument("--run", default=None, help="run folder of `advdiff train` (samples it, scores against its data)")
    ev.add_argument("--real", default=None, help="folder of real images (with --fake and --out)")
    ev.add_argument("--fake", default=None, help="folder of generated images")
    ev.add_argument("--out", default=None, help="metrics.json path (default with --run: RUN/metrics.json)")
    ev.add_argument("--n", type=int, default=None, help="generated images to score (--run: required; folders: first N)")
    ev.add_argument("--n-real", type=int, default=None, help="real images (default: --n with --run, all for folders)")
    ev.add_argument("--samples", default=None, help="--run: score this .pt tensor of samples instead of sampling")
    ev.add_argument("--real-split", default="train", choices=["train", "test"], help="--run: split of the real images")
    ev.add_argument("--sampler", default=None, help="--run: ddpm, ddim, blur or heat (default: the family's)")
    ev.add_argument("--sample-seed", type=int, default=0, help="--run: sampling seed")
    ev.add_argument(
        "--feature-extractor",
        default="inception",
        choices=["inception", "tiny-test"],
        help="inception (standard FID) or tiny-test (fast plumbing tests; not FID)",
    )
    ev.add_argument("--weights", default=None, help="Inception weights file (torch-fidelity format)")
    ev.add_argument(
        "--download-weights",
        action="store_true",
        help="let torch-fidelity download the Inception weights if none are here",
    )
    ev.add_argument(
        "--cache-dir",
        default=None,
        help="cache of weights and reference statistics (default $ADVDIFF_CACHE or ~/.cache/advdiff)",
    )
    ev.add_argument("--no-cache", action="store_true", help="recompute the real images' statistics")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ev.add_argument("--batch-size", type=int, default=32, help="images per feature-extractor batch")
    ev.add_argument("--k", type=int, default=5, help="neighbours of precision/recall/density/coverage")
    ev.add_argument("--kid-subsets", type=int, default=100)
    ev.add_argument("--kid-subset-size", type=int, default=1000, help="capped by the number of images")
    ev.add_argument("--seed", type=int, default=2020, help="seed of the KID subsets")
    ev.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's own)")
    ev.add_argument("--no-progress", action="store_true", help="no progress bars")
    ev.add_argument(
        "--clean-fid", action="store_true", help="also fid_clean: clean-fid's 'clean' mode, the paper's FID"
    )
    ev.set_defaults(func=_cmd_evaluate)

    corrupt = sub.add_parser("corrupt", help="figures of corruption trajectories on real images")
    corrupt.add_argument(
        "--family", action="append", default=None, help="ddpm, heat, blur, advdiff or all (repeatable; default advdiff)"
    )
    corrupt.add_argument("--dataset", default="fashion_mnist", help="fashion_mnist, mnist, cifar10 or folder")
    corrupt.add_argument("--data-root", default=None, help="data folder (required for --dataset folder)")
    corrupt.add_argument("--split", default="test", choices=["train", "test"])
    corrupt.add_argument("--size", type=int, default=None, help="resize images to size x size")
    corrupt.add_argument("--channels", type=int, default=None, choices=[1, 3])
    corrupt.add_argument("--n", type=int, default=4, help="number of images")
    corrupt.add_argument("--K", type=int, default=None, help="levels (default: each family's own)")
    corrupt.add_argument("--sigma-min", type=float, default=None, help="blur width of level 1, pixels")
    corrupt.add_argument("--sigma-max", type=float, default=None, help="blur width of level K, pixels")
    corrupt.add_argument("--peclet", type=float, default=0.06, help="advdiff: Péclet number")
    corrupt.add_argument("--reynolds", type=float, default=None, help="advdiff: Reynolds number (default: all modes)")
    corrupt.add_argument("--collision", default="central_moment", choices=["bgk", "central_moment"])
    corrupt.add_argument("--law", default="paper", choices=["paper", "kolmogorov"])
    corrupt.add_argument("--divergence-free", action="store_true", help="advdiff: divergence-free velocity")
    corrupt.add_argument(
        "--intensity-map",
        default="paper",
        choices=["paper", "none"],
        help="advdiff: the authors' map rho = 0.95 + 0.1 x (default) or none",
    )
    corrupt.add_argument(
        "--variant",
        default="default",
        choices=["default", "authors"],
        help="advdiff: LBM solver choices, ours (default) or the authors' (ablation)",
    )
    corrupt.add_argument("--backend", default="auto", choices=["auto", "cpu", "cupy", "numpy"])
    corrupt.add_argument("--seed", type=int, default=0)
    corrupt.add_argument("--out", required=True, help="output folder")
    corrupt.set_defaults(func=_cmd_corrupt)

    gc = sub.add_parser("gpu-check", help="LBM parity, roofline, training and sampling rates, projected GPU-hours")
    gc.add_argument("--json", required=True, metavar="FILE", help="the report")
    gc.add_argument("--backend", default="cupy", choices=["cupy", "cpu", "numpy"])
    gc.add_argument("--device", default="cuda", help="the network's device (cuda, cuda:N or cpu)")
    gc.add_argument("--quick", action="store_true", help="a tiny network on small images (checks the check on a CPU)")
    gc.add_argument("--steps", type=int, default=100, help="training steps")
    gc.add_argument("--samples", type=int, default=4, help="images sampled")
    gc.add_argument("--paper-config", default="config/paper.yaml", help="the sweep whose GPU-hours are projected")
    gc.set_defaults(func=_cmd_gpu_check)
    prepare = sub.add_parser("prepare", help="prepare a data set from the user's own copy (no download)")
    prepare_sub = prepare.add_subparsers(dest="prepare", required=True)
    pf = prepare_sub.add_parser("ffhq", help="FFHQ -> a flat folder of 128 px PNGs, count and checksums checked")
    pf.add_argument("--source", required=True, help="thumbnails128x128 or images1024x1024 folder, or a zip of it")
    pf.add_argument("--out", required=True, help="the folder to write (the sweep's dataset root)")
    pf.add_argument("--size", type=int, default=128, help="image side in pixels")
    pf.add_argument("--expect", type=int, default=70000, help="images the source must hold (0: any number)")
    pf.add_argument("--metadata", help="ffhq-dataset-v2.json: check every file's MD5 against it")
    pf.add_argument("--no-progress", action="store_true")
    pf.set_defaults(func=_cmd_prepare_ffhq)
    analyze = sub.add_parser("analyze", help="measurements of the corruption operators without training")
    analyze_sub = analyze.add_subparsers(dest="analyze", required=True)
    aop = analyze_sub.add_parser("operator", help="advdiff's departure from Pe = 0: compressive part vs transport")
    aop.add_argument("--out", required=True, help="folder for operator.json (and the report, unless --report)")
    aop.add_argument("--report", help="Markdown report to write (default OUT/operator.md)")
    aop.add_argument("--figures", help="folder for the report's figures (default OUT/figures)")
    aop.add_argument("--seeds", type=int, default=3, help="field seeds per point at 28 px (default 3)")
    aop.add_argument("--images", type=int, default=16, help="Fashion-MNIST test images at 28 px (default 16)")
    aop.add_argument("--data-root", help="Fashion-MNIST folder (default: the usual locations)")
    aop.add_argument("--backend", default="auto", choices=["auto", "numpy", "cpu", "cupy"], help="LBM backend")
    aop.add_argument("--quick", action="store_true", help="a small grid (tests): Pe 0.06 and 1, 28 px only")
    aop.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads (default 1: these small lattices step fastest on one thread)",
    )
    aop.set_defaults(func=_cmd_analyze_operator)

    validate = sub.add_parser("validate", help="physical validation against exact solutions, with figures")
    validate_sub = validate.add_subparsers(dest="validate", required=True)
    vlbm = validate_sub.add_parser("lbm", help="LBM vs Gaussian-hill and DCT heat solutions, mass conservation")
    vlbm.add_argument("--backend", default="cpu", choices=["auto", "cpu", "cupy", "numpy"])
    vlbm.add_argument("--collision", nargs="+", default=["bgk", "central_moment"], choices=["bgk", "central_moment"])
    vlbm.add_argument("--out", required=True, help="folder for lbm_validation.json and the figures")
    vlbm.set_defaults(func=_cmd_validate_lbm)

    bench = sub.add_parser("bench", help="performance benchmarks (record results in BENCHMARKS.md)")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    lbm = bench_sub.add_parser("lbm", help="LBM throughput (MLUPS) against the memory-bandwidth roofline")
    lbm.add_argument("--backend", default="cpu", choices=["auto", "cpu", "cupy", "numpy"])
    lbm.add_argument("--batch", type=int, default=16, help="images per batch (B)")
    lbm.add_argument("--channels", type=int, default=3, help="channels per image (C)")
    lbm.add_argument("--size", type=int, default=256, help="image side in pixels (H = W)")
    lbm.add_argument("--steps", type=int, default=20, help="LBM steps per timed run")
    lbm.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    lbm.add_argument("--numpy-steps", type=int, default=2, help="steps of the slow NumPy reference")
    lbm.add_argument("--collision", default="bgk", choices=["bgk", "central_moment"])
    lbm.add_argument("--boundary", default="neumann", choices=["neumann", "periodic"])
    lbm.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    lbm.set_defaults(func=_cmd_bench_lbm)
    bc = bench_sub.add_parser("corrupt", help="seconds per image of a full advdiff trajectory (fields included)")
    bc.add_argument("--backend", default="auto", choices=["auto", "cpu", "cupy", "numpy"])
    bc.add_argument("--batch-28", type=int, default=64, help="images per batch at 28x28")
    bc.add_argument("--batch-128", type=int, default=16, help="images per batch at 128x128 RGB")
    bc.add_argument("--peclet", type=float, default=0.06)
    bc.add_argument("--collision", default="central_moment", choices=["bgk", "central_moment"])
    bc.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    bc.set_defaults(func=_cmd_bench_corrupt)
    bt = bench_sub.add_parser("train", help="training images/s of heat and advdiff (Pe > 0) and their ratio")
    bt.add_argument("--steps", type=int, default=30, help="timed steps per family (after warm-up)")
    bt.add_argument("--batch-size", type=int, default=128)
    bt.add_argument("--peclet", type=float, default=0.06)
    bt.add_argument("--preset", default="small", help="U-Net preset")
    bt.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    bt.set_defaults(func=_cmd_bench_train)
    bf = bench_sub.add_parser("features", help="Inception images/s: the previous fp32 NCHW path against the default")
    bf.add_argument("--n", type=int, default=100, help="images per timed pass")
    bf.add_argument("--batch-size", type=int, default=50)
    bf.add_argument("--repeats", type=int, default=3, help="interleaved passes of each path (best kept)")
    bf.add_argument("--extractor", default="inception", choices=["inception", "tiny-test"])
    bf.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    bf.set_defaults(func=_cmd_bench_features)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``advdiff`` console script."""
    args = build_parser().parse_args(argv)
    if getattr(args, "command", None) == "corrupt" and args.family is None:
        args.family = ["advdiff"]
    level = logging.WARNING - 10 * min(args.verbose + 1, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except AdvdiffError as exc:
        print(f"advdiff: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. an output path that cannot be written: one line, no traceback
        log.debug("OSError", exc_info=True)
        print(f"advdiff: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
