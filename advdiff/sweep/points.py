"""Expanding a sweep section into points: corruption families x Péclet x Reynolds x seeds, each point one training run.

:func:`build_sweep` serves the workflow (once, before any job starts; it raises ConfigError naming the
key) and Python users alike. A point's identity is the hash of its resolved
:class:`~advdiff.training.TrainConfig` (:meth:`~advdiff.training.TrainConfig.hash`), part of its
folder name: a parameter that changes the weights makes a new point, an unchanged point keeps its
folder. ``advdiff`` points take every combination of Pe, Re, intensity map and ``divergence_free``,
except that Pe = 0 (no velocity) is one point per intensity map, with Re = None and
``divergence_free=False``. The other families take none of these. See docs/workflow.md, "The sweep".
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advdiff.errors import ConfigError, bad_value
from advdiff.naming import POINT_ID_PATTERN, number_label, point_id, point_label, run_name  # noqa: F401 (also served here)
from advdiff.sweep.defaults import EVALUATE_KEYS, FIGURE_KEYS, SAMPLE_KEYS, SECTION_KEYS, TRAIN_KEYS, schema_defaults

log = logging.getLogger(__name__)

NATIVE_SIZES = {"fashion_mnist": 28, "mnist": 28, "cifar10": 32}
"""Image side of the built-in data sets (a ``folder`` data set needs ``dataset.size``)."""

FEATURE_EXTRACTORS = ("inception", "tiny-test")

SWEPT_PARAMS = ("peclet", "reynolds", "intensity_map", "divergence_free")
"""advdiff parameters set by the sweep's axes (``sweep.<name>``): ``family_params.advdiff`` may not set them."""


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
    divergence_free: bool | None = None  # advdiff only: divergence-free velocity (lattice curl)

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
    cross_machine: str | None = None  # a study tables JSON of the same study on another machine

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

    preset = model.get("preset") if isinstance(model, Mapping) else None
    if preset not in PRESETS:
        raise bad_value("sweep.model.preset", preset, f"one of {', '.join(PRESETS)}")


def _check_shape(config: Any, size: int, fam: str, where: str) -> None:
    """The family's own checks at the sweep's image size (advdiff: its LBM schedule, with the Mach limit)."""
    try:
        config.build_corruption().check_shape(size, size)
    except ConfigError as exc:
        key = f"sweep.family_params.{fam}"
        raise ConfigError(f"{key} [{where}]: {exc}", key) from None


def _check_reynolds(points: Mapping[str, SweepPoint], reynolds: Sequence[float | None], size: int) -> None:
    """Refuse Reynolds lists whose values give the same velocity field at this image size.

    The roll-off removes nothing once Re reaches the family's ``reynolds_without_cutoff`` at this size
    (:meth:`~advdiff.corruptions.Corruption.shape_summary`): such a value equals ``null`` there, so two of
    them (or one and ``null``) would train the same point twice. A single one is allowed, and logged.
    """
    moving = next((p for p in points.values() if p.family == "advdiff" and p.peclet), None)
    if moving is None:
        return
    limit = moving.config.build_corruption().shape_summary(size, size)["reynolds_without_cutoff"]
    inert = [i for i, re in enumerate(reynolds) if re is None or re >= limit]
    shown = ["null" if re is None else f"{re:g}" for re in reynolds]
    named = ", ".join(f"sweep.reynolds[{i}] = {shown[i]}" for i in inert)
    if len(inert) > 1:
        raise ConfigError(
            f"sweep.reynolds = [{', '.join(shown)}]: {named} all keep every velocity mode at "
            f"{size} x {size} px (the roll-off removes modes only for Re < {limit:.3g} there), so their "
            f"advdiff points would be identical runs; keep one of them and use Re values below {limit:.3g}",
            "sweep.reynolds",
        )
    for i in inert:
        if reynolds[i] is not None:
            log.warning(
                "sweep.reynolds[%d] = %g keeps every velocity mode at %d x %d px (the roll-off "
                "acts only for Re < %.3g there): it is Re = null in effect",
                i,
                reynolds[i],
                size,
                size,
                limit,
            )


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
    realised: dict[tuple[Any, ...], list[tuple[float, float]]] = {}
    seen: set[tuple[Any, ...]] = set()
    for point in points.values():
        if point.family != "advdiff" or not point.peclet:
            continue
        key = (point.reynolds, point.intensity_map, point.divergence_free, point.peclet)
        if key in seen:
            continue
        seen.add(key)
        rms = point.config.build_corruption().shape_summary(size, size)
        if rms["limiter_ratio"] < LIMITER_WARN:
            log.warning(
                "sweep.peclet: Pe %g realises %.0f %% of its velocity RMS at %d x %d px (the soft limiter "
                "c = %g caps |v|): %.3g instead of %.3g lattice units per step",
                point.peclet,
                100 * rms["limiter_ratio"],
                size,
                size,
                point.config.family_params.get("limiter"),
                rms["velocity_rms_realised"],
                rms["velocity_rms_requested"],
            )
        realised.setdefault(key[:3], []).append((point.peclet, rms["velocity_rms_realised"]))
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
                    "family_params.advdiff.limiter",
                    f"sweep.peclet[{j}]",
                )


def _advdiff_combos(
    peclets: Sequence[float], reynolds: Sequence[float | None], maps: Sequence[str], projections: Sequence[bool]
) -> list[tuple[float, float | None, str, bool]]:
    """The advdiff (Pe, Re, map, divergence-free) settings, in sweep order, each once.

    Pe = 0 has no velocity: Re and the projection change nothing there (one point per map).
    """
    combos = [
        (pe, re, imap, div)
        for pe in peclets
        for re in ([None] if pe == 0 else reynolds)
        for imap in maps
        for div in ([False] if pe == 0 else projections)
    ]
    return list(dict.fromkeys(combos))


def _family_params(per_family: Any, known_families: Sequence[str]) -> Mapping[str, Any]:
    """``sweep.family_params``, checked: known families, mappings, and no key that the sweep's axes set."""
    if not isinstance(per_family, Mapping):
        raise bad_value("sweep.family_params", per_family, "a mapping from family name to its parameters")
    for fam, params in per_family.items():
        if fam not in known_families:
            raise bad_value(
                f"sweep.family_params.{fam}",
                params,
                f"parameters of a known family: one of {', '.join(known_families)}",
            )
        if params is not None and not isinstance(params, Mapping):
            raise bad_value(f"sweep.family_params.{fam}", params, "a mapping of the family's parameters")
        for key in SWEPT_PARAMS:
            if params and key in params:
                raise bad_value(
                    f"sweep.family_params.{fam}.{key}",
                    params[key],
                    f"no value here: sweep.{key} sets it for every advdiff point",
                )
    return per_family


def _check_sample_and_evaluate(sample: Mapping[str, Any], evaluate: Mapping[str, Any]) -> None:
    """The counts, seed and switches of ``sweep.sample`` and ``sweep.evaluate`` (defaults already filled in)."""
    for key in ("n", "seed", "grid"):
        value = sample[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "seed" else 1):
            raise bad_value(f"sweep.sample.{key}", value, "an integer >= " + ("0" if key == "seed" else "1"))
    n_eval = evaluate["n"]
    if isinstance(n_eval, bool) or not isinstance(n_eval, int) or not 2 <= n_eval <= sample["n"]:
        raise bad_value(
            "sweep.evaluate.n",
            n_eval,
            f"an integer from 2 to sweep.sample.n = {sample['n']} (the scored images are the first n samples)",
        )
    n_real = evaluate["n_real"]
    if n_real is not None and (isinstance(n_real, bool) or not isinstance(n_real, int) or n_real < 2):
        raise bad_value("sweep.evaluate.n_real", evaluate["n_real"], "null (same as n) or an integer >= 2")
    if not isinstance(evaluate["clean_fid"], bool):
        raise bad_value("sweep.evaluate.clean_fid", evaluate["clean_fid"], "true or false")
    if evaluate["feature_extractor"] not in FEATURE_EXTRACTORS:
        raise bad_value(
            "sweep.evaluate.feature_extractor", evaluate["feature_extractor"], f"one of {', '.join(FEATURE_EXTRACTORS)}"
        )


def _check_families(fams: Any, known_families: Sequence[str]) -> list[str]:
    """``sweep.families``: a non-empty list of known families, each once."""
    if not isinstance(fams, list) or not fams:
        raise bad_value("sweep.families", fams, f"a non-empty list of {', '.join(known_families)}")
    for i, fam in enumerate(fams):
        if fam not in known_families:
            raise bad_value(f"sweep.families[{i}]", fam, f"one of {', '.join(known_families)}")
    if len(set(fams)) != len(fams):
        raise bad_value("sweep.families", fams, "a list without repeated families")
    return fams


def _check_pe_re(peclet: Any, reynolds: Any) -> tuple[list[float], list[float | None]]:
    """``sweep.peclet`` (numbers >= 0) and ``sweep.reynolds`` (numbers > 0, or null for every mode)."""
    peclets = _number_list("sweep.peclet", peclet)
    for i, pe in enumerate(peclets):
        if pe is not None and pe < 0:
            raise bad_value(f"sweep.peclet[{i}]", pe, "a Péclet number >= 0")
    res = _number_list("sweep.reynolds", reynolds, allow_none=True)
    for i, re in enumerate(res):
        if re is not None and re <= 0:
            raise bad_value(f"sweep.reynolds[{i}]", re, "a Reynolds number > 0, or null for every mode")
    return peclets, res


def _check_seeds(seeds: Any) -> list[int]:
    """``sweep.seeds``: a non-empty list of distinct integers >= 0."""
    if not isinstance(seeds, list) or not seeds:
        raise bad_value("sweep.seeds", seeds, "a non-empty list of integers >= 0")
    for i, seed in enumerate(seeds):
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise bad_value(f"sweep.seeds[{i}]", seed, "an integer >= 0")
    if len(set(seeds)) != len(seeds):
        raise bad_value("sweep.seeds", seeds, "a list without repeated seeds")
    return seeds


def _point_config(data: Mapping[str, Any], where: str) -> Any:
    """One point's :class:`~advdiff.training.TrainConfig`; its errors renamed to the sweep keys that set them."""
    from advdiff.training import TrainConfig

    fam = data["family"]
    try:
        return TrainConfig.from_dict(dict(data))
    except ConfigError as exc:
        key = exc.key or ""
        if key.startswith("family_params"):  # family_params.K, or "family_params key" (unknown)
            here = f"sweep.family_params.{fam}" + key.removeprefix("family_params")
            raise exc.renamed(here, f" [{where}]") from None
        section = "sweep.train" if key.split(".")[0] in TRAIN_KEYS else "sweep"
        raise exc.prefixed(section, f" [{where}]") from None


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

    s = _mapping("sweep", section, SECTION_KEYS)
    defaults = schema_defaults("sweep")  # the workflow's defaults, for a section given without them
    name = s.get("name", defaults["name"])
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise bad_value("sweep.name", name, "a non-empty name of letters, digits, '-' and '_'")
    given = s.get("dataset") or {}
    if not isinstance(given, Mapping):
        raise bad_value("sweep.dataset", given, "a mapping of " + ", ".join(defaults["dataset"]))
    dataset = {**defaults["dataset"], **given}
    known_families = families()
    fams = _check_families(s.get("families", defaults["families"]), known_families)
    peclets, reynolds = _check_pe_re(s.get("peclet", defaults["peclet"]), s.get("reynolds", defaults["reynolds"]))
    maps = _choice_list(
        "sweep.intensity_map",
        s.get("intensity_map", defaults["intensity_map"]),
        INTENSITY_MAPS,
        "intensity maps: " + " or ".join(INTENSITY_MAPS),
    )
    projections = _choice_list(
        "sweep.divergence_free",
        s.get("divergence_free", defaults["divergence_free"]),
        (False, True),
        "booleans (true or false)",
    )
    seeds = _check_seeds(s.get("seeds", defaults["seeds"]))

    excludes = _exclude_rules(s.get("exclude"), peclets, reynolds, maps, projections)
    if "advdiff" in fams:
        kept = _advdiff_combos(peclets, reynolds, maps, projections)
        if kept and all(any(_excluded(rule, c) for rule in excludes) for c in kept):
            raise bad_value("sweep.exclude", s.get("exclude"), "rules that leave at least one advdiff point")

    per_family = _family_params(s.get("family_params") or {}, known_families)

    train = {**defaults["train"], **_mapping("sweep.train", s.get("train"), TRAIN_KEYS)}
    model = s.get("model") or {}
    model = {**defaults["model"], **model} if isinstance(model, Mapping) else model
    _check_preset(model)
    sample = {**defaults["sample"], **_mapping("sweep.sample", s.get("sample"), SAMPLE_KEYS)}
    # evaluate.n has no default of its own: the scored images are the first sample.n
    evaluate = {
        "n": sample["n"],
        **defaults["evaluate"],
        **_mapping("sweep.evaluate", s.get("evaluate"), EVALUATE_KEYS),
    }
    _check_sample_and_evaluate(sample, evaluate)
    _check_runtime(sample, fams)
    figures = {**defaults["figures"], **_mapping("sweep.figures", s.get("figures"), FIGURE_KEYS)}
    compare = s.get("compare_paper", defaults["compare_paper"])
    if not isinstance(compare, bool):
        raise bad_value("sweep.compare_paper", compare, "true or false")
    other = s.get("cross_machine", defaults.get("cross_machine"))
    if other is not None and (not isinstance(other, str) or not Path(other).is_file()):
        raise bad_value("sweep.cross_machine", other, "null or an existing file: a study's reports/tables/<name>.json")

    points: dict[str, SweepPoint] = {}
    size: int | None = None
    for fam in fams:
        base = dict(per_family.get(fam) or {})
        if fam == "advdiff":
            combos = _advdiff_combos(peclets, reynolds, maps, projections)
            combos = [c for c in combos if not any(_excluded(rule, c) for rule in excludes)]
        else:
            combos = [(None, None, None, None)]
        for pe, re, imap, div in combos:
            params = base
            where = f"sweep ({point_label(fam, pe, re, imap, div, style='where')})"
            if fam == "advdiff":
                params = dict(base, peclet=pe, reynolds=re, intensity_map=imap, divergence_free=div)
            for seed in seeds:
                data = {
                    "family": fam,
                    "family_params": params,
                    "dataset": dataset,
                    "model": model,
                    "seed": seed,
                    "sample_every": 0,
                    **train,
                }
                config = _point_config(data, where)
                if size is None:
                    size = config.dataset.size or NATIVE_SIZES.get(config.dataset.name)
                    if size is None:
                        need = f"the image side in pixels (required for dataset {config.dataset.name!r})"
                        raise bad_value("sweep.dataset.size", config.dataset.size, need)
                _check_shape(config, size, fam, where)
                pid = run_name(config)  # the same name `advdiff train` gives this configuration
                points[pid] = SweepPoint(
                    pid,
                    fam,
                    pe if fam == "advdiff" else None,
                    re,
                    seed,
                    config,
                    intensity_map=imap,
                    divergence_free=div,
                )
    if "advdiff" in fams and any(pe for pe in peclets):
        _check_reynolds(points, reynolds, int(size or 0))
        _check_limiter(points, peclets, int(size or 0))
    label = s.get("dataset_label") or _dataset_label(dataset, int(size or 0))
    return Sweep(
        name=name,
        dataset_label=str(label),
        image_size=size,
        points=points,
        sample=sample,
        evaluate=evaluate,
        figures=figures,
        compare_paper=compare,
        cross_machine=other,
        dataset=next(iter(points.values())).config.to_dict()["dataset"],
    )


def _dataset_label(dataset: Mapping[str, Any], size: int) -> str:
    names = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}
    name = names.get(dataset["name"], dataset.get("root") or "folder")
    return f"{name} {size}x{size}"
