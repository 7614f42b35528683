"""A benchmark sweep: corruption families x Péclet x Reynolds x seeds, each point one training run.

The workflow (``workflow/rules/*.smk``) validates its ``sweep`` section with :func:`build_sweep`
once, before any job starts, and then trains, samples, scores, records and tracks every
:class:`SweepPoint`. The same functions serve the workflow scripts and Python users::

    from advdiff.sweep import build_sweep
    sweep = build_sweep(config["sweep"])          # raises ConfigError naming the key
    for point in sweep.points.values():
        print(point.point_id, point.config.hash())

A point's identity is the hash of its resolved :class:`~advdiff.training.TrainConfig`
(:meth:`~advdiff.training.TrainConfig.hash`), which is part of its folder name: changing any
parameter that changes the weights makes a new point, and an unchanged point keeps its folder.

``advdiff`` points take every combination of the sweep's Pe, Re, intensity map
(``sweep.intensity_map``: ``paper``, the authors' operator, or ``none``) and velocity projection
(``sweep.divergence_free``), except at Pe = 0 (no velocity, the lattice version of heat
dissipation): Re and the projection of a zero field play no role there, so Pe = 0 is one point
per intensity map, with Re = None and ``divergence_free=False``. The two maps stay two points
at Pe = 0 because they agree only up to the paper map's clip to [0, 1] (values that stay in
[0, 1] are read out alike). The other families take no Pe, Re, map or projection.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advdiff.errors import AdvdiffError, ConfigError, bad_value
from advdiff.files import atomic_write_text

log = logging.getLogger(__name__)

NATIVE_SIZES = {"fashion_mnist": 28, "mnist": 28, "cifar10": 32}
"""Image side of the built-in data sets (a ``folder`` data set needs ``dataset.size``)."""

FEATURE_EXTRACTORS = ("inception", "tiny-test")

SECTION_KEYS = (
    "name",
    "dataset",
    "dataset_label",
    "families",
    "peclet",
    "reynolds",
    "intensity_map",
    "divergence_free",
    "seeds",
    "exclude",
    "family_params",
    "model",
    "train",
    "sample",
    "evaluate",
    "figures",
    "compare_paper",
)
TRAIN_KEYS = (
    "batch_size",
    "steps",
    "lr",
    "warmup_steps",
    "ema_decay",
    "grad_clip",
    "amp",
    "checkpoint_every",
    "log_every",
    "device",
    "pool",
)
SAMPLE_KEYS = ("n", "seed", "sampler", "grid")
EVALUATE_KEYS = ("n", "n_real", "real_split", "feature_extractor", "batch_size", "kid_subset_size", "device",
                 "clean_fid")  # fmt: skip
FIGURE_KEYS = ("n_images",)
SWEPT_PARAMS = ("peclet", "reynolds", "intensity_map", "divergence_free")
"""advdiff parameters set by the sweep's axes (``sweep.<name>``): ``family_params.advdiff`` may not set them."""


class DataMissingError(AdvdiffError, FileNotFoundError):
    """The sweep's images are not where the configuration says; the message says where to put them."""


def _where(key: str, exc: ConfigError) -> ConfigError:
    """Prefix a library error with the sweep key it came from."""
    return ConfigError(f"{key}: {exc}")


def _mapping(key: str, value: Any, known: Sequence[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise bad_value(key, value, f"a mapping of {', '.join(known)}")
    unknown = [k for k in value if k not in known]
    if unknown:
        raise bad_value(f"{key}.{unknown[0]}", value[unknown[0]], f"a known key: one of {', '.join(known)}")
    return dict(value)


def _number_list(key: str, value: Any, *, allow_none: bool = False) -> list[float | None]:
    if not isinstance(value, list) or not value:
        raise bad_value(key, value, "a non-empty list of numbers")
    out: list[float | None] = []
    for i, item in enumerate(value):
        if item is None and allow_none:
            out.append(None)
            continue
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise bad_value(f"{key}[{i}]", item, "a finite number" + (" or null" if allow_none else ""))
        out.append(float(item))
    if len(set(out)) != len(out):
        raise bad_value(key, value, "a list without repeated values")
    return out


def _choice_list(key: str, value: Any, allowed: Sequence[Any], what: str) -> list[Any]:
    """A non-empty list of distinct values out of ``allowed`` (compared by type too: 1 is not true)."""
    if not isinstance(value, list) or not value:
        raise bad_value(key, value, f"a non-empty list of {what}")
    for i, item in enumerate(value):
        if not any(type(item) is type(a) and item == a for a in allowed):
            raise bad_value(f"{key}[{i}]", item, " or ".join(json.dumps(a) for a in allowed))
    if len(set(value)) != len(value):
        raise bad_value(key, value, "a list without repeated values")
    return list(value)


def _exclude_rules(value: Any, *axes: Sequence[Any]) -> list[dict[str, Any]]:
    """``sweep.exclude``: advdiff combinations to leave out of the cross-product of the axes.

    Each rule is a mapping of some of ``peclet``, ``reynolds``, ``intensity_map`` and
    ``divergence_free`` to one value; a combination matching every value of a rule is dropped. A
    value that is not on its axis is an error (a typo would otherwise exclude nothing).
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_value("sweep.exclude", value, "a list of mappings of advdiff axis values")
    rules = []
    for i, rule in enumerate(value):
        rule = _mapping(f"sweep.exclude[{i}]", rule, SWEPT_PARAMS)
        if not rule:
            raise bad_value(f"sweep.exclude[{i}]", rule, f"at least one of {', '.join(SWEPT_PARAMS)}")
        for key, axis in zip(SWEPT_PARAMS, axes, strict=True):
            if key not in rule:
                continue
            v = rule[key]
            same_kind = isinstance(v, bool) == (key == "divergence_free") and (
                key != "intensity_map" or isinstance(v, str)
            )
            if not same_kind or v not in axis:
                raise bad_value(f"sweep.exclude[{i}].{key}", v, f"a value of sweep.{key}: {list(axis)}")
        rules.append(rule)
    return rules


def _excluded(rule: Mapping[str, Any], combo: tuple[Any, ...]) -> bool:
    """Whether an advdiff (Pe, Re, map, divergence-free) combination matches an exclude rule."""
    return all(key not in rule or rule[key] == value for key, value in zip(SWEPT_PARAMS, combo, strict=True))


def _label(value: float | None) -> str:
    return "inf" if value is None else format(value, "g")


POINT_ID_PATTERN = r"[a-z0-9]+(?:-pe[^_/]+?-re[^_/]+?(?:-map[a-z0-9]+(?:-divfree)?)?)?-s\d+-[0-9a-f]{10}"
"""Regular expression of the ids :func:`point_id` makes (for tools that find a point in a file name).

It also matches the advdiff ids of earlier versions, which had no ``-map...`` part, so that a
report still recognises (and removes) the figures of such points."""


def point_id(
    family: str,
    peclet: float | None,
    reynolds: float | None,
    seed: int,
    config_hash: str,
    intensity_map: str = "paper",
    divergence_free: bool = False,
) -> str:
    """A sweep point's name, ``<family>-s<seed>-<hash>`` or for advdiff
    ``advdiff-pe<Pe>-re<Re>-map<intensity map>[-divfree]-s<seed>-<hash>``, the hash being the first
    10 hex digits of the config hash (``-divfree`` only when the velocity is Leray-projected)."""
    coords = ""
    if family == "advdiff":
        coords = f"-pe{peclet:g}-re{_label(reynolds)}-map{intensity_map}" + ("-divfree" if divergence_free else "")
    return f"{family}{coords}-s{seed}-{config_hash[:10]}"


@dataclass(frozen=True)
class SweepPoint:
    """One training run of the sweep: its family, dimensionless numbers, seed and resolved config."""

    point_id: str  # folder name, see point_id(): <family>[-pe<Pe>-re<Re>-map<map>[-divfree]]-s<seed>-<hash>
    family: str  # corruption family
    peclet: float | None  # advdiff only
    reynolds: float | None  # advdiff only; None keeps every mode
    seed: int  # training seed
    config: Any  # advdiff.training.TrainConfig (resolved; device included)
    intensity_map: str | None = None  # advdiff only: "paper" (the authors' operator) or "none"
    divergence_free: bool | None = None  # advdiff only: Leray-projected velocity

    def labels(self) -> dict[str, Any]:
        """The point's coordinates as plain JSON values."""
        return {
            "point": self.point_id,
            "family": self.family,
            "peclet": self.peclet,
            "reynolds": self.reynolds,
            "intensity_map": self.intensity_map,
            "divergence_free": self.divergence_free,
            "seed": self.seed,
            "config_hash": self.config.hash(),
        }


@dataclass
class Sweep:
    """A validated sweep: its points and the settings of sampling, scoring and figures."""

    name: str  # names the MLflow experiment and the report files
    dataset_label: str  # how tables name the data set, e.g. "Fashion-MNIST 28x28"
    image_size: int  # image side in pixels (Pe and Fo use it as the length L)
    points: dict[str, SweepPoint]
    sample: dict[str, Any] = field(default_factory=dict)  # n, seed, sampler, grid
    evaluate: dict[str, Any] = field(default_factory=dict)  # n, n_real, real_split, feature_extractor, ...
    figures: dict[str, Any] = field(default_factory=dict)  # n_images
    compare_paper: bool = False  # put the paper's FFHQ-128 numbers beside matching rows
    dataset: dict[str, Any] = field(default_factory=dict)  # the TrainConfig dataset section

    def settings(self) -> dict[str, Any]:
        """The sweep-level settings every point shares (logged as ``sweep.*`` parameters)."""
        return {
            "name": self.name,
            "dataset_label": self.dataset_label,
            "image_size": self.image_size,
            "sample": dict(self.sample),
            "evaluate": dict(self.evaluate),
        }


def _check_preset(model: Any) -> None:
    from advdiff.models.presets import PRESETS

    preset = model.get("preset", "small") if isinstance(model, Mapping) else None
    if preset not in PRESETS:
        raise bad_value("sweep.model.preset", preset, f"one of {', '.join(PRESETS)}")


def _check_schedule(family_params: Mapping[str, Any], length: int, key: str) -> None:
    """Build the advdiff schedule at the sweep's image size: tau <= 1/2 and the Mach limit fail here."""
    from advdiff.lbm import units

    p = dict(family_params)
    try:
        units.build_schedule(int(p["K"]), p["sigma_max"], sigma_min=p["sigma_min"], peclet=p["peclet"],
                             length=p.get("length") or length, alpha_max=p["alpha_max"])  # fmt: skip
    except ConfigError as exc:
        raise _where(key, exc) from None


def _check_reynolds(reynolds: Sequence[float | None], size: int) -> None:
    """Refuse Reynolds lists whose values give the same velocity field at this image size.

    The roll-off removes nothing once ``Re >= reynolds_without_cutoff``: such a value equals
    ``null`` there, so two of them (or one and ``null``) would train the same point twice. A single
    such value is allowed (it is just ``null`` under another name) but is logged.
    """
    from advdiff.fields import reynolds_without_cutoff

    limit = reynolds_without_cutoff((size, size))
    inert = [i for i, re in enumerate(reynolds) if re is None or re >= limit]
    shown = ["null" if re is None else f"{re:g}" for re in reynolds]
    named = ", ".join(f"sweep.reynolds[{i}] = {shown[i]}" for i in inert)
    if len(inert) > 1:
        raise ConfigError(
            f"sweep.reynolds = [{', '.join(shown)}]: {named} all keep every velocity mode at "
            f"{size} x {size} px (the roll-off removes modes only for Re < {limit:.3g} there), so their "
            f"advdiff points would be identical runs; keep one of them and use Re values below {limit:.3g}"
        )
    for i in inert:
        if reynolds[i] is not None:
            log.warning("sweep.reynolds[%d] = %g keeps every velocity mode at %d x %d px (the roll-off "
                        "acts only for Re < %.3g there): it is Re = null in effect", i, reynolds[i], size,
                        size, limit)  # fmt: skip


def _check_runtime(sample: Mapping[str, Any], fams: Sequence[str]) -> None:
    """Settings used only after training, checked now: the sampler must fit every family of the sweep."""
    from advdiff.preflight import check_sampler

    check_sampler(sample.get("sampler"), fams, "sweep.sample.sampler")


LIMITER_WARN = 0.95
"""A Pe whose realised velocity RMS is below this fraction of the requested one is logged."""
LIMITER_DISTINCT = 0.05
"""Two Pe values whose realised RMS differ by less than this (relative) are refused as one point."""


def _check_limiter(points: Mapping[str, SweepPoint], peclets: Sequence[float | None], size: int) -> None:
    """Log Pe values the soft limiter saturates, and refuse Pe values it makes indistinguishable.

    The limiter c tanh(|v| / c) caps the velocity: at 28 px, Pe 5 and Pe 19 realise nearly the same
    RMS, so their points would differ in name only (as inert Reynolds numbers would).
    """
    from advdiff.corruptions import build

    realised: dict[tuple[Any, ...], list[tuple[float, float]]] = {}
    seen: set[tuple[Any, ...]] = set()
    for point in points.values():
        if point.family != "advdiff" or not point.peclet:
            continue
        p = dict(point.config.family_params)
        key = (point.reynolds, point.intensity_map, point.divergence_free, point.peclet)
        if key in seen:
            continue
        seen.add(key)
        rms = build("advdiff", **{k: v for k, v in p.items() if k != "backend"}).velocity_rms(size, size)
        if rms["limiter_ratio"] < LIMITER_WARN:
            log.warning("sweep.peclet: Pe %g realises %.0f %% of its velocity RMS at %d x %d px (the soft limiter "
                        "c = %g caps |v|): %.3g instead of %.3g lattice units per step", point.peclet,
                        100 * rms["limiter_ratio"], size, size, p.get("limiter"), rms["realised"],
                        rms["requested"])  # fmt: skip
        realised.setdefault(key[:3], []).append((point.peclet, rms["realised"]))
    for group in realised.values():
        group.sort()
        for (pe_a, u_a), (pe_b, u_b) in zip(group, group[1:], strict=False):
            if abs(u_b - u_a) < LIMITER_DISTINCT * max(u_a, u_b):
                i, j = peclets.index(pe_a), peclets.index(pe_b)
                raise ConfigError(
                    f"sweep.peclet[{i}] = {pe_a:g} and sweep.peclet[{j}] = {pe_b:g} realise velocity RMS "
                    f"{u_a:.3g} and {u_b:.3g} at {size} x {size} px: the soft limiter (c tanh(|v|/c)) saturates, "
                    f"so their points would differ by less than {100 * LIMITER_DISTINCT:.0f} %; keep Pe values "
                    "whose realised RMS differ (the record's schedule.velocity_rms_realised), or raise "
                    "family_params.advdiff.limiter"
                )


def build_sweep(section: Mapping[str, Any]) -> Sweep:
    """Validate a ``sweep`` configuration section and expand it into points.

    Every check happens here, before any work: unknown keys (listing the known ones), unknown
    families, family parameters (each family is built), the advdiff schedule at the data's image
    size (τ ≤ 1/2, negative Pe, velocities beyond the Mach limit), training settings (each
    point's :class:`~advdiff.training.TrainConfig`), and sample/score counts. Errors are
    :class:`~advdiff.errors.ConfigError` whose message starts with the ``sweep.…`` key.
    """
    from advdiff.corruptions import families
    from advdiff.corruptions.advection import INTENSITY_MAPS
    from advdiff.training import TrainConfig

    s = _mapping("sweep", section, SECTION_KEYS)
    name = s.get("name", "default")
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise bad_value("sweep.name", name, "a non-empty name of letters, digits, '-' and '_'")
    dataset = dict(s.get("dataset") or {"name": "fashion_mnist"})
    known_families = families()
    fams = s.get("families", list(known_families))
    if not isinstance(fams, list) or not fams:
        raise bad_value("sweep.families", fams, f"a non-empty list of {', '.join(known_families)}")
    for i, fam in enumerate(fams):
        if fam not in known_families:
            raise bad_value(f"sweep.families[{i}]", fam, f"one of {', '.join(known_families)}")
    if len(set(fams)) != len(fams):
        raise bad_value("sweep.families", fams, "a list without repeated families")
    peclets = _number_list("sweep.peclet", s.get("peclet", [0.0]))
    for i, pe in enumerate(peclets):
        if pe is not None and pe < 0:
            raise bad_value(f"sweep.peclet[{i}]", pe, "a Péclet number >= 0")
    reynolds = _number_list("sweep.reynolds", s.get("reynolds", [None]), allow_none=True)
    for i, re in enumerate(reynolds):
        if re is not None and re <= 0:
            raise bad_value(f"sweep.reynolds[{i}]", re, "a Reynolds number > 0, or null for every mode")
    maps = _choice_list("sweep.intensity_map", s.get("intensity_map", ["paper"]), INTENSITY_MAPS,
                        "intensity maps: " + " or ".join(INTENSITY_MAPS))  # fmt: skip
    projections = _choice_list("sweep.divergence_free", s.get("divergence_free", [False]), (False, True),
                               "booleans (true or false)")  # fmt: skip
    seeds = s.get("seeds", [42])
    if not isinstance(seeds, list) or not seeds:
        raise bad_value("sweep.seeds", seeds, "a non-empty list of integers >= 0")
    for i, seed in enumerate(seeds):
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise bad_value(f"sweep.seeds[{i}]", seed, "an integer >= 0")
    if len(set(seeds)) != len(seeds):
        raise bad_value("sweep.seeds", seeds, "a list without repeated seeds")

    excludes = _exclude_rules(s.get("exclude"), peclets, reynolds, maps, projections)
    if "advdiff" in fams:
        kept = [(pe, re, m, d) for pe in peclets for re in ([None] if pe == 0 else reynolds) for m in maps
                for d in ([False] if pe == 0 else projections)]  # fmt: skip
        if kept and all(any(_excluded(rule, c) for rule in excludes) for c in kept):
            raise bad_value("sweep.exclude", s.get("exclude"), "rules that leave at least one advdiff point")

    per_family = s.get("family_params") or {}
    if not isinstance(per_family, Mapping):
        raise bad_value("sweep.family_params", per_family, "a mapping from family name to its parameters")
    for fam, params in per_family.items():
        if fam not in known_families:
            raise bad_value(f"sweep.family_params.{fam}", params, f"parameters of a known family: "
                            f"one of {', '.join(known_families)}")  # fmt: skip
        if params is not None and not isinstance(params, Mapping):
            raise bad_value(f"sweep.family_params.{fam}", params, "a mapping of the family's parameters")
        for key in SWEPT_PARAMS:
            if params and key in params:
                raise bad_value(f"sweep.family_params.{fam}.{key}", params[key],
                                f"no value here: sweep.{key} sets it for every advdiff point")  # fmt: skip

    train = _mapping("sweep.train", s.get("train"), TRAIN_KEYS)
    model = s.get("model") or {"preset": "small"}
    _check_preset(model)
    sample = _mapping("sweep.sample", s.get("sample"), SAMPLE_KEYS)
    sample = {"n": 256, "seed": 0, "sampler": None, "grid": 36, **sample}
    evaluate = _mapping("sweep.evaluate", s.get("evaluate"), EVALUATE_KEYS)
    evaluate = {"n": sample["n"], "n_real": None, "real_split": "train", "feature_extractor": "inception",
                "batch_size": 32, "kid_subset_size": 1000, "device": "auto", "clean_fid": False,
                **evaluate}  # fmt: skip
    for key in ("n", "seed", "grid"):
        value = sample[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "seed" else 1):
            raise bad_value(f"sweep.sample.{key}", value, "an integer >= " + ("0" if key == "seed" else "1"))
    n_eval = evaluate["n"]
    if isinstance(n_eval, bool) or not isinstance(n_eval, int) or not 2 <= n_eval <= sample["n"]:
        raise bad_value("sweep.evaluate.n", n_eval, f"an integer from 2 to sweep.sample.n = {sample['n']} "
                        "(the scored images are the first n samples)")  # fmt: skip
    n_real = evaluate["n_real"]
    if n_real is not None and (isinstance(n_real, bool) or not isinstance(n_real, int) or n_real < 2):
        raise bad_value("sweep.evaluate.n_real", evaluate["n_real"], "null (same as n) or an integer >= 2")
    if not isinstance(evaluate["clean_fid"], bool):
        raise bad_value("sweep.evaluate.clean_fid", evaluate["clean_fid"], "true or false")
    if evaluate["feature_extractor"] not in FEATURE_EXTRACTORS:
        raise bad_value("sweep.evaluate.feature_extractor", evaluate["feature_extractor"],
                        f"one of {', '.join(FEATURE_EXTRACTORS)}")  # fmt: skip
    _check_runtime(sample, fams)
    figures = {"n_images": 4, **_mapping("sweep.figures", s.get("figures"), FIGURE_KEYS)}
    compare = s.get("compare_paper", False)
    if not isinstance(compare, bool):
        raise bad_value("sweep.compare_paper", compare, "true or false")

    points: dict[str, SweepPoint] = {}
    size: int | None = None
    for fam in fams:
        base = dict(per_family.get(fam) or {})
        if fam == "advdiff":
            # Pe = 0 has no velocity: Re and the projection change nothing there (one point per map).
            combos = [(pe, re, imap, div) for pe in peclets for re in ([None] if pe == 0 else reynolds)
                      for imap in maps for div in ([False] if pe == 0 else projections)]  # fmt: skip
            combos = list(dict.fromkeys(combos))
            combos = [c for c in combos if not any(_excluded(rule, c) for rule in excludes)]
        else:
            combos = [(None, None, None, None)]
        for pe, re, imap, div in combos:
            params, where = base, f"sweep (family {fam})"
            if fam == "advdiff":
                params = dict(base, peclet=pe, reynolds=re, intensity_map=imap, divergence_free=div)
                where = f"sweep (family {fam}, Pe {pe:g}, Re {_label(re)}, map {imap}{', divergence-free' * div})"
            for seed in seeds:
                data = {"family": fam, "family_params": params, "dataset": dataset, "model": model,
                        "seed": seed, "sample_every": 0, **train}  # fmt: skip
                try:
                    config = TrainConfig.from_dict(data)
                except ConfigError as exc:
                    key, text = exc.key or "", str(exc)
                    if key.startswith("family_params"):  # family_params.K, or "family_params key" (unknown)
                        here = f"sweep.family_params.{fam}"
                        raise ConfigError(f"{here}{text[13:]} [{where}]", here + key[13:]) from None
                    section = "sweep.train" if key.split(".")[0] in TRAIN_KEYS else "sweep"
                    raise ConfigError(f"{section}.{text} [{where}]", f"{section}.{key}" if key else None) from None
                if size is None:
                    size = config.dataset.size or NATIVE_SIZES.get(config.dataset.name)
                    if size is None:
                        need = f"the image side in pixels (required for dataset {config.dataset.name!r})"
                        raise bad_value("sweep.dataset.size", config.dataset.size, need)
                if fam == "advdiff":
                    _check_schedule(config.family_params, size, f"sweep.family_params.advdiff [{where}]")
                pid = point_id(fam, pe, re, seed, config.hash(), intensity_map=imap, divergence_free=bool(div))
                points[pid] = SweepPoint(pid, fam, pe if fam == "advdiff" else None, re, seed, config,
                                         intensity_map=imap, divergence_free=div)  # fmt: skip
    if "advdiff" in fams and any(pe for pe in peclets):
        _check_reynolds(reynolds, int(size or 0))
        _check_limiter(points, peclets, int(size or 0))
    label = s.get("dataset_label") or _dataset_label(dataset, int(size or 0))
    return Sweep(name=name, dataset_label=str(label), image_size=size, points=points, sample=sample,
                 evaluate=evaluate, figures=figures, compare_paper=compare,
                 dataset=next(iter(points.values())).config.to_dict()["dataset"])  # fmt: skip


def _dataset_label(dataset: Mapping[str, Any], size: int) -> str:
    names = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}
    name = names.get(dataset.get("name", "fashion_mnist"), dataset.get("root") or "folder")
    return f"{name} {size}x{size}"


# --------------------------------------------------------------------------- jobs


_GPU_LOCK: Any = None  # the open lock file of the GPU this process claimed (held until it exits)


def claim_gpu(lock_dir: str | os.PathLike[str] = Path("results") / ".gpu_locks") -> int | None:
    """Pin this job to one free GPU of a multi-GPU machine (``CUDA_VISIBLE_DEVICES``), before CUDA starts.

    Snakemake's ``gpu`` resource bounds how many jobs run at once; this picks *which* GPU each
    one uses by holding an ``fcntl`` lock on ``<lock_dir>/gpu<i>.lock`` until the process exits.
    Does nothing when ``CUDA_VISIBLE_DEVICES`` is already set (SLURM sets it) or with fewer than 2 GPUs.
    """
    import fcntl

    global _GPU_LOCK
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None or _GPU_LOCK is not None:
        return None
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    count = sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))
    if count < 2:
        return None
    folder = Path(lock_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        fh = open(folder / f"gpu{index}.lock", "a+")  # noqa: SIM115 (kept open: the lock lives with the process)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            continue
        _GPU_LOCK = fh
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index)
        log.info("using GPU %d of %d", index, count)
        return index
    log.warning("all %d GPUs are claimed by other jobs; sharing them (raise no more gpu resources than GPUs)",
                count)  # fmt: skip
    return None


def configure_job(threads: int | None = None, log_file: str | None = None, gpus: int = 0) -> None:
    """Set up a workflow job: logging into its log file, its GPU (``gpus`` > 0), and the CPU threads."""
    if log_file:
        logging.basicConfig(filename=log_file, level=logging.INFO, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    if gpus:
        claim_gpu()
    if threads:
        import torch

        torch.set_num_threads(int(threads))
        os.environ["ADVDIFF_NUM_THREADS"] = str(int(threads))


def check_data(dataset: Mapping[str, Any], out: str | os.PathLike[str]) -> dict[str, Any]:
    """Check that the sweep's images exist (loading one); write a short JSON note.

    For a flat image folder the note is also the manifest of its held-out split: seed, size, the
    held-out files by name and their SHA-256 (the training runs record the same SHA-256). Raises
    :class:`DataMissingError` saying where to put the images when they are not there, and
    :class:`~advdiff.errors.ConfigError` naming ``sweep.dataset.holdout`` when it leaves nothing to train on.
    """
    from advdiff.data import DataError, load_dataset
    from advdiff.data.folder import ImageFolderDataset

    ds = dict(dataset)
    folder_args = {"holdout": ds.get("holdout"), "holdout_seed": ds.get("holdout_seed", 0)}
    try:
        data = load_dataset(ds["name"], root=ds.get("root"), split=ds.get("split", "train"), size=ds.get("size"),
                            channels=ds.get("channels"), limit=ds.get("limit"), root_key="sweep.dataset.root",
                            **(folder_args if ds["name"] == "folder" else {}))  # fmt: skip
        n = len(data)
        if n < 1:
            raise DataError(f"no images in data set {ds['name']!r}")
        first = data[0][0]
    except ConfigError as exc:
        if exc.key in ("holdout", "holdout_seed"):
            raise exc.prefixed("sweep.dataset") from None
        raise _missing(ds, exc) from None
    except (DataError, OSError) as exc:
        raise _missing(ds, exc) from None
    info = {"dataset": ds, "images": n, "shape": list(first.shape)}
    if isinstance(data, ImageFolderDataset):
        info["split"] = data.split_info()
        if data.heldout_names:
            info["holdout_files"] = list(data.heldout_names)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(info, indent=2) + "\n")
    return info


def _missing(ds: Mapping[str, Any], exc: Exception) -> DataMissingError:
    """The error of :func:`check_data` when the images are not there: what failed and where to put them."""
    if ds["name"] == "folder":
        root = Path(ds.get("root") or "data/images").resolve()
        where = (f"Put the images (PNG or JPEG files, e.g. FFHQ at 128x128) in {root}"
                 + (f"/{ds.get('split')}" if ds.get("split") else "")
                 + " (or in that folder directly), or set sweep.dataset.root to where they are.")  # fmt: skip
    else:
        where = (f"Install data set {ds['name']!r} (Fashion-MNIST: `make data`, Debian package "
                 "dataset-fashion-mnist) or set sweep.dataset.root to its folder.")  # fmt: skip
    return DataMissingError(f"sweep.dataset: the images are not here ({exc}). {where}")


def _read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_curve(metrics_jsonl: str | os.PathLike[str]) -> dict[str, list[tuple[int, float]]]:
    """The training curves of ``metrics.jsonl``: name -> [(step, value), ...] for every numeric key."""
    curves: dict[str, list[tuple[int, float]]] = {}
    path = Path(metrics_jsonl)
    if not path.is_file():
        return curves
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        step = int(entry.get("step", 0))
        for key, value in entry.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if key != "step" and number and math.isfinite(value):
                curves.setdefault(key, []).append((step, float(value)))
    return curves


def build_record(
    sweep: Sweep,
    point: SweepPoint,
    run_dir: str | os.PathLike[str],
    sample_json: str | os.PathLike[str],
    metrics_json: str | os.PathLike[str],
    figures_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Everything known about one finished point, from its result files (the reports read these records)."""
    from advdiff.tracking import git_state
    from advdiff.training.trainer import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE

    run = Path(run_dir)
    train = _read_json(run / SUMMARY_FILE)
    sample = _read_json(sample_json)
    scores = _read_json(metrics_json)
    config = _read_json(run / CONFIG_FILE)
    curves = read_curve(run / METRICS_FILE)
    schedule = None
    if point.family == "advdiff":
        from advdiff.lbm import units

        p = point.config.family_params
        sched = units.build_schedule(int(p["K"]), p["sigma_max"], sigma_min=p["sigma_min"], peclet=p["peclet"],
                                     length=p.get("length") or sweep.image_size, alpha_max=p["alpha_max"])  # fmt: skip
        schedule = sched.summary()
        if point.reynolds is not None:
            schedule["pe_over_re"] = point.peclet / point.reynolds
        from advdiff.corruptions import build

        rms = build("advdiff", **{k: v for k, v in p.items() if k != "backend"}).velocity_rms(
            sweep.image_size, sweep.image_size
        )
        schedule.update(velocity_rms_requested=rms["requested"], velocity_rms_realised=rms["realised"],
                        limiter_ratio=rms["limiter_ratio"])  # fmt: skip
    git = git_state()
    device = str(train.get("device", "cpu"))
    seconds = {"train": float(train.get("seconds") or 0.0), "sample": float(sample.get("seconds") or 0.0),
               "evaluate": float(scores.get("seconds") or 0.0)}  # fmt: skip
    files = {"config": str(run / CONFIG_FILE), "train_summary": str(run / SUMMARY_FILE),
             "train_metrics": str(run / METRICS_FILE), "sample_grid": str(sample.get("grid", "")),
             "sample_summary": str(sample_json), "scores": str(metrics_json)}  # fmt: skip
    if figures_dir is not None:
        for name in ("trajectory_strip.png", "velocity_field.png", "power_spectra.png"):
            f = Path(figures_dir) / name
            if f.is_file():
                files[name.removesuffix(".png")] = str(f)
    return {
        **point.labels(),
        "sweep": sweep.name,
        "dataset": sweep.dataset_label,
        "image_size": sweep.image_size,
        "config": config,
        "settings": sweep.settings(),
        "train": train,
        "curves": curves,
        "sample": sample,
        "scores": scores,
        "schedule": schedule,
        "compute": {
            "device": device,
            "lbm_backend": train.get("lbm_backend"),  # the backend that ran (``auto`` resolved); advdiff only
            "versions": train.get("versions") or {},
            "seconds": seconds,
            "hours": sum(seconds.values()) / 3600.0,
            "kind": "GPU" if device.startswith("cuda") else "CPU",
        },  # fmt: skip
        # a flat folder's held-out split (seed, size, SHA-256 of the held-out names) that training left out
        "data_split": train.get("data_split"),
        "git_commit": git["commit"],  # the plain commit; what differed from it is listed apart
        "git_dirty_paths": git["dirty_paths"],
        "files": files,
    }


def write_record(record: Mapping[str, Any], out: str | os.PathLike[str]) -> Path:
    """Write a point record as JSON (atomically)."""
    return atomic_write_text(out, json.dumps(record, indent=2, default=str) + "\n")
