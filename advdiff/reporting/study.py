"""The study report: a sweep with several seeds per point, compared with intervals and paired differences.

:func:`write_study_report` reads the ``record.json`` of every point
(:func:`advdiff.sweep.build_record`) and writes, under the names the workflow gives
(``workflow/rules/study.smk``), the page (``md``), its table (``tex``, ``csv``, ``json``; the JSON
holds every number of the page) and figures (``fid_vs_pe``, ``fid_vs_pe_pdf``, ``samples``,
``loss``, ``learnt``: how much of each reverse step the trained networks predict). Verdicts use the
Student-t interval of the paired differences, since with a handful of seeds the bootstrap percentile
interval under-covers (:mod:`advdiff.stats`); the page prints both.
See docs/scores.md, section "The study report".
"""

from __future__ import annotations

import csv
import json
import logging
import math
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from advdiff import stats
from advdiff.errors import ConfigError
from advdiff.files import atomic_write_text
from advdiff.reporting.sweep import (
    PAPER_FFHQ128,
    aggregate,
    load_records,
    row_label,
    samples_figure,
    tex_escape,
)

log = logging.getLogger(__name__)

SCORES = {  # key -> (name, digits, lower is better)
    "fid": ("FID", 1, True),
    "kid": ("KID", 4, True),
    "precision": ("precision", 3, False),
    "recall": ("recall", 3, False),
    "density": ("density", 3, False),
    "coverage": ("coverage", 3, False),
    "palette": ("palette", 4, True),
}
DEPARTURE_IMAGES = 16
"""Held-out images on which the operator's departure D_k is measured for the table."""
DEPARTURE_SEEDS = (0, 1, 2)


# --------------------------------------------------------------------------- numbers


def _score(record: Mapping[str, Any], key: str) -> float:
    value = record["scores"].get(key)
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(
            f"point {record['point']}: scores.{key} = {value!r} is not a finite number; re-run its evaluate job"
        )
    return float(value)


def _by_seed(records: Sequence[Mapping[str, Any]], key: str) -> dict[int, float]:
    return {int(r["seed"]): _score(r, key) for r in records}


def _t_interval(summary: Mapping[str, Any], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval of a mean from its ``n``, ``mean`` and ``std``."""
    from scipy.stats import t as student_t

    n = int(summary["n"])
    half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * float(summary["std"]) / math.sqrt(n)
    return float(summary["mean"]) - half, float(summary["mean"]) + half


def seed_summary(values: Sequence[float]) -> dict[str, Any]:
    """Mean, std, bootstrap and Student-t intervals over seeds; one seed gives its value and no spread."""
    if len(values) < 2:
        return {"n": len(values), "mean": float(values[0]), "std": None}
    s = stats.summarize(values)
    s["t_low"], s["t_high"] = _t_interval(s)
    return s


def summarize_rows(rows: list[dict[str, Any]], records: Mapping[str, Mapping[str, Any]]) -> None:
    """Add ``stats[score]`` (:func:`seed_summary` of the row's seeds) to every row, in place."""
    for row in rows:
        recs = [records[p] for p in row["points"]]
        row["stats"] = {key: seed_summary([_score(r, key) for r in recs]) for key in SCORES}


def baseline(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The row every other is compared with: advdiff at Pe = 0 (the paper's map when there are two)."""
    zero = [r for r in rows if r["family"] == "advdiff" and r["peclet"] == 0]
    zero.sort(key=lambda r: r["intensity_map"] != "paper")
    return zero[0] if zero else None


def compare(
    row: Mapping[str, Any], base: Mapping[str, Any], records: Mapping[str, Mapping[str, Any]], name: str
) -> dict[str, Any]:
    """Paired (same-seed) differences ``row - base`` of every score, with one sentence each."""
    mine = [records[p] for p in row["points"]]
    theirs = [records[p] for p in base["points"]]
    out: dict[str, Any] = {"name": name, "row": row_label(row, " ", ", "), "baseline": row_label(base, " ", ", ")}
    for key, (label, _, lower) in SCORES.items():
        a, b = _by_seed(mine, key), _by_seed(theirs, key)
        seeds = sorted(set(a) & set(b))
        if len(seeds) < 2:
            out[key] = {"n": len(seeds), "sentence": f"{name}: {label} has fewer than 2 common seeds; no interval."}
            continue
        diff = stats.paired_difference([a[s] for s in seeds], [b[s] for s in seeds])
        diff["seeds"] = seeds
        by_t = dict(diff, ci_low=diff["t_low"], ci_high=diff["t_high"])
        diff["separable_t"] = bool(by_t["ci_low"] > 0 or by_t["ci_high"] < 0)
        diff["sentence"] = stats.verdict(f"{name}: {label}", by_t, lower_is_better=lower)
        out[key] = diff
    return out


def comparisons(rows: Sequence[Mapping[str, Any]], records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every advdiff Pe > 0 row and every other family's row against advdiff Pe = 0."""
    base = baseline(rows)
    if base is None:
        return []
    out = []
    for row in rows:
        if row is base:
            continue
        if row["family"] == "advdiff" and row["peclet"] == 0:
            name = f"advdiff Pe 0 map {row['map']} vs map {base['map']}"
        elif row["family"] == "advdiff":
            name = f"advdiff Pe {row['pe']} (map {row['map']}) vs Pe 0"
        else:
            name = f"{row['family']} vs advdiff Pe 0"
        out.append(compare(row, base, records, name))
    return out


def cross_machine(
    rows: Sequence[Mapping[str, Any]], comps: Sequence[Mapping[str, Any]], other: str | Path
) -> dict[str, Any]:
    """This study's per-seed scores against the same study run on another machine (its tables JSON).

    Points are matched by their row label and seeds by number; per score, the spread is the largest
    ``|a - b|`` over the matched seeds (:func:`advdiff.stats.cross_machine_spread`), and each paired
    comparison says whether its Student-t interval lies beyond that spread (:func:`advdiff.stats.exceeds`).
    A point or seed missing from either side is left out and listed.
    """
    from advdiff.stats import cross_machine_spread, exceeds

    path = Path(other)
    try:
        theirs = json.loads(path.read_text(encoding="utf-8"))
        their_rows = {row_label(r, " ", ", "): r for r in theirs["rows"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"sweep.cross_machine={str(other)!r}: not a study table JSON (reports/tables/<study>.json) ({exc})"
        ) from None
    pairs: dict[str, tuple[dict[str, list[float]], dict[str, list[float]]]] = {k: ({}, {}) for k in SCORES}
    unmatched: list[str] = []
    for row in rows:
        label = row_label(row, " ", ", ")
        twin = their_rows.get(label)
        if twin is None:
            unmatched.append(label)
            continue
        mine = {seed: i for i, seed in enumerate(row["seeds"])}
        their_seeds = list(twin.get("seeds", []))
        their_values = twin.get("seed_values") or {}
        unmatched += [f"{label} seed {seed} (this run only)" for seed in mine if seed not in their_seeds]
        for j, seed in enumerate(their_seeds):
            if seed not in mine:
                unmatched.append(f"{label} seed {seed} (the other run only)")
                continue
            for k in SCORES:
                theirs_k = their_values.get(k) or []
                a, b = row["seed_values"][k][mine[seed]], theirs_k[j] if j < len(theirs_k) else None
                if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
                    continue
                pairs[k][0].setdefault(label, []).append(float(a))
                pairs[k][1].setdefault(label, []).append(float(b))
    spread = {k: cross_machine_spread(*pairs[k]) for k in SCORES if pairs[k][0]}
    if not spread:
        raise ConfigError(f"sweep.cross_machine={str(other)!r}: no point and seed of this study is in it")
    verdicts = []
    for c in comps:
        for k in ("fid", "recall"):
            d = c.get(k) or {}
            if k not in spread or "t_low" not in d:
                continue
            interval = {"mean": d["mean"], "ci_low": d["t_low"], "ci_high": d["t_high"]}
            verdicts.append(
                {
                    "name": c["name"],
                    "score": k,
                    "mean": d["mean"],
                    "t_low": d["t_low"],
                    "t_high": d["t_high"],
                    "spread": spread[k]["spread"],
                    "exceeds": exceeds(interval, spread[k]["spread"]),
                }
            )
    return {
        "other": str(path),
        "other_machine": theirs.get("machine", "not recorded"),
        "spread": spread,
        "comparisons": verdicts,
        "unmatched": unmatched,
    }


def _cross_machine_lines(cm: Mapping[str, Any]) -> list[str]:
    lines = [
        f"Compared with the same study run on another machine ({cm['other_machine']}; `{cm['other']}`): per "
        "score, the largest difference between the two machines' scores of the same point and seed.",
        "",
        "| score | points | largest difference | mean difference | mean relative difference |",
        "|---|---|---|---|---|",
    ]
    for k, sp in cm["spread"].items():
        lines.append(
            f"| {SCORES[k][0]} | {sp['n_points']} | {sp['abs_max']:.4g} | {sp['abs_mean']:.4g} | {sp['rel_mean']:.2%} |"
        )
    lines.append("")
    for v in cm["comparisons"]:
        where = "beyond" if v["exceeds"] else "not beyond"
        lines.append(
            f"- {v['name']}: {SCORES[v['score']][0]} difference {v['mean']:+.4g} (95 % t interval "
            f"{v['t_low']:+.4g} to {v['t_high']:+.4g}) is {where} the cross-machine spread {v['spread']:.4g}."
        )
    if cm["unmatched"]:
        lines += ["", f"Not in both runs (left out): {', '.join(cm['unmatched'])}."]
    return lines + [""]


def departures(
    rows: Sequence[Mapping[str, Any]], records: Mapping[str, Mapping[str, Any]], images: Any = None
) -> dict[str, Any]:
    """The operator's departure from Pe = 0 (in units of the training noise) for every advdiff Pe > 0 row.

    Measured on the first held-out test images (``images``, else read here) with
    :func:`advdiff.analysis.measure_departure` and the row's own family parameters: ``departure`` for
    the paper's map, ``transport`` without a map.
    """
    from advdiff.analysis import measure_departure

    out: dict[str, Any] = {}
    adv = [r for r in rows if r["family"] == "advdiff" and r["peclet"]]
    if not adv:
        return out
    if images is None:
        images = _test_images(records[adv[0]["points"][0]]["config"]["dataset"])
    for row in adv:
        params = dict(records[row["points"][0]]["config"]["family_params"])
        keep = {
            k: v
            for k, v in params.items()
            if k not in ("peclet", "reynolds", "divergence_free", "intensity_map", "backend")
        }
        m = measure_departure(
            images,
            peclet=row["peclet"],
            reynolds=row["reynolds"],
            divergence_free=bool(row["divergence_free"]),
            seeds=DEPARTURE_SEEDS,
            **keep,
        )
        part = "departure" if row["intensity_map"] == "paper" else "transport"
        K = int(params["K"])
        levels = sorted({max(1, K // 5), K // 2, K})
        out[row["points"][0]] = {
            "part": part,
            "levels": levels,
            "mean": [float(m[part][k]) for k in levels],
            "std": [float(m[f"{part}_std"][k]) for k in levels],
            "images": DEPARTURE_IMAGES,
            "seeds": list(DEPARTURE_SEEDS),
        }
    return out


def step_learning(
    rows: Sequence[Mapping[str, Any]],
    records: Mapping[str, Mapping[str, Any]],
    runs_dir: str | Path,
    images: Any = None,
) -> dict[str, Any]:
    """Per row, how much of each reverse step its seeds' networks (EMA weights) predict on held-out images.

    :func:`advdiff.analysis.measure_step_prediction` on the first test images (``images``, else read
    here), with every seed's ``checkpoint.pt`` under ``runs_dir``; rows of families without a residual
    loss are left out. Keyed by the row's first point.
    """
    from advdiff.analysis import measure_step_prediction
    from advdiff.runs import load_network
    from advdiff.training import TrainConfig
    from advdiff.training.trainer import CHECKPOINT_FILE

    out: dict[str, Any] = {}
    residual = [r for r in rows if r["family"] in ("heat", "advdiff")]
    if not residual:
        return out
    if images is None:
        images = _test_images(records[residual[0]["points"][0]]["config"]["dataset"])
    for row in residual:
        models = []
        for pid in row["points"]:
            path = Path(runs_dir) / pid / CHECKPOINT_FILE
            if not path.is_file():
                raise ConfigError(f"point {pid}: no trained network at {path}; re-run its train job")
            models.append(load_network(path.parent)[0])
        corruption = TrainConfig.from_dict(records[row["points"][0]]["config"]).build_corruption()
        m = measure_step_prediction(models, corruption, images)
        m["seeds"] = [records[p]["seed"] for p in row["points"]]
        m["share_all_summary"] = seed_summary(m["share_all"])
        out[row["points"][0]] = m
    return out


def step_learning_figure(rows: Sequence[Mapping[str, Any]], learnt: Mapping[str, Any], out: str | Path) -> Path:
    """Left: the size of a reverse step per level; right: the share of it the networks predict (every seed)."""
    from advdiff.reporting.figures import pyplot, save

    plt = pyplot()
    fig, (size, share) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for i, row in enumerate(r for r in rows if r["points"][0] in learnt):
        m = learnt[row["points"][0]]
        colour = f"C{i}"
        size.plot(m["levels"], m["unchanged"], color=colour, lw=1.5, label=row_label(row, " ", ", "))
        for j, per_level in enumerate(m["share"]):
            share.plot(m["levels"], per_level, color=colour, lw=1, alpha=0.8 if j == 0 else 0.4)
    size.set_yscale("log")
    size.set_ylabel("loss of predicting no change")
    share.set_ylabel("share of the step predicted")
    share.set_ylim(min(-0.1, share.get_ylim()[0]), 1.02)
    share.axhline(0, color="0.5", lw=0.8)
    for ax in (size, share):
        ax.set_xlabel("level k")
        ax.grid(alpha=0.3)
    size.legend(fontsize=7)
    return save(fig, out)


def _learnt_lines(rows: Sequence[Mapping[str, Any]], learnt: Mapping[str, Any], figure: str | None) -> list[str]:
    """The page section on how much of each reverse step the networks predict (numbers computed above)."""
    if not learnt:
        return []
    first = next(iter(learnt.values()))
    lines = [
        "## What the networks learnt of each step",
        "",
        "The residual families train the network to predict the step from level k to k − 1 from the noisy "
        "level-k image. On "
        f"{first['n_images']} held-out images (one forward run each, one noise draw shared by all networks), "
        "the share of that step a network predicts is 1 − its loss / the loss of predicting no change; 1 is a "
        "step fully determined by the image, 0 a network that learnt nothing beyond the mean. The last fifth "
        "of the levels, where sampling starts, is given apart.",
        "",
        "| point | share of the step predicted, all levels | last fifth of the levels "
        "| loss of predicting no change, last level |",
        "|---|---|---|---|",
    ]
    for row in rows:
        m = learnt.get(row["points"][0])
        if m is None:
            continue
        s = m["share_all_summary"]
        tail = max(1, len(m["levels"]) // 5)
        late = [1 - sum(e[-tail:]) / sum(m["unchanged"][-tail:]) for e in m["model"]]
        lines.append(
            f"| {row_label(row, ' ', ', ')} | {_ms(s, 2)} | {sum(late) / len(late):.2f} "
            f"(seeds {', '.join(f'{v:.2f}' for v in late)}) | {m['unchanged'][-1]:.3g} |"
        )
    lines.append("")
    if figure:
        lines += [
            f"![share of each step predicted]({figure})",
            "",
            "*Left: how large a reverse step is at each level (the loss of predicting no change, log scale); right: "
            "the share of it each seed's network predicts.*",
            "",
        ]
    return lines


def _test_images(dataset: Mapping[str, Any]) -> Any:
    """The first ``DEPARTURE_IMAGES`` of the data set's test split as a (B, C, H, W) float tensor in [0, 1]."""
    from advdiff.training import DatasetConfig
    from advdiff.training.trainer import load_images

    fields = {k: v for k, v in dataset.items() if k in DatasetConfig.__dataclass_fields__}
    fields.update(split="test", limit=DEPARTURE_IMAGES)
    return load_images(DatasetConfig(**fields))[:DEPARTURE_IMAGES].float()


def job_costs(records: Sequence[Mapping[str, Any]], benchmarks: str | Path, sweep: str) -> dict[str, dict[str, float]]:
    """CPU seconds and wall seconds of each point's train, sample and evaluate jobs (Snakemake's benchmark files).

    Falls back to the record's own timings (wall clock only) when a benchmark file is missing.
    """
    from advdiff.tracking import read_benchmark

    root = Path(benchmarks).parent if Path(benchmarks).name == sweep else Path(benchmarks)
    out: dict[str, dict[str, float]] = {}
    for rec in records:
        pid = rec["point"]
        cpu = wall = 0.0
        found = 0
        for rule, job in (("train", pid), ("sample", f"{sweep}/{pid}"), ("evaluate", f"{sweep}/{pid}")):
            values = read_benchmark(root / rule / f"{job}.tsv")  # the parser the MLflow runs use
            if values:
                found += 1
                wall += values.get("seconds", 0.0)
                cpu += values.get("cpu_seconds", 0.0)
        if found < 3:
            wall = sum(float(v) for v in rec["compute"]["seconds"].values())
            cpu = math.nan
        out[pid] = {"cpu_s": cpu, "wall_s": wall}
    return out


# --------------------------------------------------------------------------- tables


def _ms(s: Mapping[str, Any], digits: int) -> str:
    if s.get("std") is None:
        return f"{s['mean']:.{digits}f}"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"


def _ci(s: Mapping[str, Any], digits: int, low: str = "t_low", high: str = "t_high") -> str:
    if low not in s:
        return "–"
    return f"[{s[low]:.{digits}f}, {s[high]:.{digits}f}]"


def _departure_cell(dep: Mapping[str, Any] | None) -> str:
    if not dep:
        return "–"
    return " / ".join(f"{m:.2f}" for m in dep["mean"])


def markdown_table(rows: Sequence[Mapping[str, Any]], deps: Mapping[str, Any], cost: Mapping[str, float]) -> str:
    """One line per point: every score as mean ± std and its 95 % t interval over seeds."""
    head = ["point", "seeds", *[SCORES[k][0] for k in SCORES], "D_k (k = K/5, K/2, K)", "core-h"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [row_label(r, " ", ", "), str(len(r["seeds"]))]
        for key, (_, digits, _) in SCORES.items():
            s = r["stats"][key]
            cells.append(f"{_ms(s, digits)}<br>{_ci(s, digits)}")
        cells.append(_departure_cell(deps.get(r["points"][0])))
        c = cost.get(row_label(r, " ", ", "))
        cells.append("–" if c is None or not math.isfinite(c) else f"{c:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def latex_table(rows: Sequence[Mapping[str, Any]], caption: str) -> str:
    """A booktabs table of mean ± std over seeds."""
    cols = ["point", "seeds", *[SCORES[k][0] for k in SCORES]]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}",
        r"\toprule",
        " & ".join(cols) + r" \\",
        r"\midrule",
    ]
    for r in rows:
        cells = [row_label(r, " ", ", "), str(len(r["seeds"]))]
        cells += [_ms(r["stats"][k], SCORES[k][1]) for k in SCORES]
        lines.append(" & ".join(tex_escape(c) for c in cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + tex_escape(caption) + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """One line per point: each score's mean, std and both 95 % intervals, with counts and extractor."""
    fields = [
        "family",
        "peclet",
        "reynolds",
        "intensity_map",
        "divergence_free",
        "seeds",
        "n_fake",
        "n_real",
        "feature_extractor",
        "steps",
    ]
    for key in SCORES:
        fields += [key, f"{key}_std", f"{key}_t_low", f"{key}_t_high", f"{key}_boot_low", f"{key}_boot_high"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            out: dict[str, Any] = {
                "family": r["family"],
                "peclet": "" if r["peclet"] is None else r["peclet"],
                "reynolds": "" if r["family"] != "advdiff" else ("inf" if r["reynolds"] is None else r["reynolds"]),
                "intensity_map": r["intensity_map"] or "",
                "divergence_free": "" if r["divergence_free"] is None else str(r["divergence_free"]).lower(),
                "seeds": " ".join(map(str, r["seeds"])),
                "n_fake": " ".join(map(str, r["n_fake"])),
                "n_real": " ".join(map(str, r["n_real"])),
                "feature_extractor": " ".join(r["feature_extractor"]),
                "steps": " ".join(map(str, r["steps"])),
            }
            for key in SCORES:
                s = r["stats"][key]
                out.update(
                    {
                        key: s["mean"],
                        f"{key}_std": s.get("std"),
                        f"{key}_t_low": s.get("t_low"),
                        f"{key}_t_high": s.get("t_high"),
                        f"{key}_boot_low": s.get("ci_low"),
                        f"{key}_boot_high": s.get("ci_high"),
                    }
                )
            writer.writerow(out)


# --------------------------------------------------------------------------- figures


def _x_positions(rows: Sequence[Mapping[str, Any]]) -> tuple[dict[int, float], float]:
    """Where each row sits on the log Pe axis: Pe itself, Pe = 0 and the other families left of the smallest Pe."""
    positive = sorted({r["peclet"] for r in rows if r["family"] == "advdiff" and r["peclet"]})
    zero_at = (positive[0] / 4) if positive else 1.0
    xs = {}
    others = [r for r in rows if r["family"] != "advdiff"]
    for i, r in enumerate(rows):
        if r["family"] == "advdiff":
            xs[i] = r["peclet"] or zero_at
        else:
            xs[i] = zero_at * 1.18 ** (others.index(r) + 1)
    return xs, zero_at


def scores_vs_pe_figure(
    rows: Sequence[Mapping[str, Any]], out_png: str | Path, out_pdf: str | Path, title: str
) -> None:
    """FID and recall against Pe (log axis; Pe = 0 drawn left of the smallest Pe), mean with 95 % t error bars."""
    from advdiff.reporting.figures import pyplot, save

    plt = pyplot()
    colours = {"advdiff": "tab:blue", "heat": "tab:orange", "ddpm": "tab:green", "blur": "tab:red"}
    xs, zero_at = _x_positions(rows)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key in zip(axes, ("fid", "recall"), strict=True):
        seen: set[str] = set()
        for style, imap in (("o-", "paper"), ("s--", "none")):
            # Pe = 0 starts both lines: without velocity the two maps are the same process
            line = [
                (xs[i], r)
                for i, r in enumerate(rows)
                if r["family"] == "advdiff"
                and (r["intensity_map"] == imap or (r["peclet"] == 0 and r is baseline(rows)))
            ]
            if all(r["peclet"] == 0 for _, r in line) and imap != "paper":
                continue
            if not line:
                continue
            line.sort(key=lambda t: t[0])
            _errorbars(ax, line, key, colours["advdiff"], style, f"advdiff, map {imap}", filled=imap == "paper")
        for i, r in enumerate(rows):
            if r["family"] == "advdiff":
                continue
            label = r["family"] if r["family"] not in seen else None
            seen.add(r["family"])
            _errorbars(ax, [(xs[i], r)], key, colours.get(r["family"], "black"), "D", label, filled=True)
        ax.set_xscale("log")
        ticks = sorted({x for x in xs.values()})
        ax.set_xticks([zero_at, *[t for t in ticks if t > zero_at * 1.5]])
        ax.set_xticklabels(["0", *[f"{t:g}" for t in ticks if t > zero_at * 1.5]])
        ax.minorticks_off()
        ax.set_xlabel("Péclet number Pe (log axis; Pe = 0 and the other families at the left)")
        ax.set_ylabel(SCORES[key][0] + (" (lower is better)" if SCORES[key][2] else " (higher is better)"))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out_pdf)
    save(fig, out_png)


def _errorbars(ax, line, key: str, colour: str, style: str, label: str | None, filled: bool) -> None:
    x = [p[0] for p in line]
    y = [p[1]["stats"][key]["mean"] for p in line]
    lo = [p[1]["stats"][key]["mean"] - p[1]["stats"][key].get("t_low", p[1]["stats"][key]["mean"]) for p in line]
    hi = [p[1]["stats"][key].get("t_high", p[1]["stats"][key]["mean"]) - p[1]["stats"][key]["mean"] for p in line]
    ax.errorbar(
        x,
        y,
        yerr=[lo, hi],
        fmt=style,
        color=colour,
        capsize=4,
        label=label,
        markerfacecolor=colour if filled else "white",
    )
    for p in line:  # the seeds themselves, faint
        seeds = p[1]["seed_values"][key]
        ax.plot([p[0]] * len(seeds), seeds, ".", color=colour, alpha=0.35)


def loss_figure(rows: Sequence[Mapping[str, Any]], records: Mapping[str, Mapping[str, Any]], out: str | Path) -> Path:
    """Training loss against step, one line per seed, one panel per point."""
    from advdiff.reporting.figures import pyplot, save

    plt = pyplot()
    cols = min(3, len(rows))
    nrows = math.ceil(len(rows) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 2.8 * nrows), squeeze=False, sharey=True)
    for ax in axes.flat[len(rows) :]:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows, strict=False):
        for pid in row["points"]:
            points = (records[pid].get("curves") or {}).get("loss") or []  # [(step, value), ...]
            steps, loss = [p[0] for p in points], [p[1] for p in points]
            ax.plot(steps, loss, lw=1, label=f"seed {records[pid]['seed']}")
        ax.set_yscale("log")
        ax.set_title(row_label(row, " ", ", "), fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("training loss")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return save(fig, out)


# --------------------------------------------------------------------------- page


def _machine(recs: Sequence[Mapping[str, Any]]) -> str:
    """The CPUs the runs trained on (from their records), else this machine's, said to be this one's."""
    from advdiff.bench.machine import describe

    seen = sorted(
        {
            f"{c['model']} ({c['kind']}, family/model {c['family_model']}"
            + (f", oneDNN capped at {c['isa_cap']}" if c.get("isa_cap") else "")
            + (f", kernels capped: {c['kernel_caps']}" if c.get("kernel_caps") else "")
            + ")"
            for r in recs
            if isinstance(c := (r.get("compute", {}).get("versions") or {}).get("cpu"), Mapping)
        }
    )
    m = describe()
    cores = f"{m.get('cores', '?')} cores"
    if not seen:
        here = f"{m.get('cpu', platform.processor() or 'unknown CPU')} ({m.get('cpu_kind', '?')})"
        return f"not in the records (runs from before records named their CPU); report built on {here}, {cores}"
    mixed = "; MIXED CPU kinds: differences below the cross-CPU spread are not readable" if len(seen) > 1 else ""
    return f"{' and '.join(seen)}, {cores}{mixed}"


def provenance(commits: Sequence[str], where: str | Path | None = None) -> dict[str, Any]:
    """Which code made the runs and which built this page: the runs' commits, the current commit, and per
    run commit the code and config files changed since (``None`` where git cannot tell)."""
    from advdiff.tracking import git_changed_paths, git_state

    here = git_state(where)
    changed = {c: (git_changed_paths(c, where) if c != "unknown" else None) for c in commits}
    return {
        "run_commits": list(commits),
        "report_commit": here["commit"],
        "report_dirty_paths": here["dirty_paths"],
        "changed_since": changed,
    }


def _provenance_line(prov: Mapping[str, Any], limit: int = 12) -> str:
    report = str(prov["report_commit"])[:10]
    if prov.get("report_dirty_paths"):
        n = len(prov["report_dirty_paths"])
        report += f" with {n} tracked file{'s' if n != 1 else ''} changed and not committed"
    parts = []
    for commit, changed in prov["changed_since"].items():
        if changed is None:
            parts.append(f"since {commit[:10]} not known (no git history here)")
        elif not changed:
            parts.append(f"no code or config file differs from {commit[:10]}")
        else:
            shown = ", ".join(f"`{c}`" for c in changed[:limit])
            more = f" and {len(changed) - limit} more" if len(changed) > limit else ""
            parts.append(f"{len(changed)} code or config files differ from {commit[:10]}: {shown}{more}")
    return (
        f"- Code: this page was built at commit {report}; {'; '.join(parts)} (a changed file re-runs a job "
        "only when it is the job's own script or input; see the commit messages for what each change does)."
    )


def conclusion(comps: Sequence[Mapping[str, Any]]) -> list[str]:
    """The conclusion's bullet points, computed from the comparisons' FID and recall intervals."""
    lines = []
    for c in comps:
        fid, rec = c.get("fid", {}), c.get("recall", {})
        if "mean" not in fid:
            continue
        if fid.get("separable_t") or rec.get("separable_t"):
            what = "separable from the seed noise"
        else:
            what = "within the seed noise in FID and recall"
        lines.append(
            f"- {c['name']}: {what} (FID {fid['mean']:+.1f}, recall {rec.get('mean', math.nan):+.3f}, "
            f"paired over {fid['n']} seeds)."
        )
    return lines


def learnt_conclusion(rows: Sequence[Mapping[str, Any]], learnt: Mapping[str, Any]) -> list[str]:
    """One line per row whose networks predict less than half of a reverse step (mean over seeds)."""
    lines = []
    for row in rows:
        m = learnt.get(row["points"][0])
        if m is None or m["share_all_summary"]["mean"] >= 0.5:
            continue
        why = (
            " (the step depends on the velocity field, which the network is not given)"
            if row["family"] == "advdiff" and row["peclet"]
            else ""
        )
        lines.append(
            f"- {row_label(row, ' ', ', ')}: its networks predict {m['share_all_summary']['mean']:.0%} of a reverse "
            f"step on held-out images{why}; what a network cannot predict of a step, the sampler does not restore."
        )
    return lines


def write_study_report(
    records: Sequence[str | Path],
    outputs: Mapping[str, str | Path],
    *,
    runs_dir: str | Path | None = None,
    benchmarks: str | Path = "results/benchmarks",
    departure: bool = True,
    cross_machine_table: str | Path | None = None,
    learning: bool = True,
) -> dict[str, Any]:
    """Write the study page, its tables and figures (docs/scores.md, "The study report"); returns the JSON content.

    ``cross_machine_table``: the tables JSON of the same study run on another machine (:func:`cross_machine`).
    ``learning`` (with ``runs_dir``): measure how much of each reverse step the trained networks predict
    (:func:`step_learning`; the ``learnt`` output, when given, receives its figure).
    """
    recs = load_records(records)
    if not recs:
        raise ConfigError("the study has no point records; run its sweep first")
    by_point = {r["point"]: r for r in recs}
    sweep = recs[0]["sweep"]
    rows = sorted(aggregate(recs), key=lambda r: r["family"] != "advdiff")  # advdiff rows first, by Pe and map
    summarize_rows(rows, by_point)
    for row in rows:
        row["seed_values"] = {k: [_score(by_point[p], k) for p in row["points"]] for k in SCORES}
    comps = comparisons(rows, by_point)
    cm = cross_machine(rows, comps, cross_machine_table) if cross_machine_table else None
    learning = learning and runs_dir is not None
    first_config = recs[0]["config"]
    held_out = None
    if (departure or learning) and any(r["family"] in ("heat", "advdiff") for r in rows):
        held_out = _test_images(first_config["dataset"])  # read once for both sections
    deps = departures(rows, by_point, held_out) if departure else {}
    learnt = step_learning(rows, by_point, runs_dir, held_out) if learning else {}
    per_point = job_costs(recs, benchmarks, sweep)
    # Core-hours from the records: each job runs on one thread, and the trainer's time adds up across
    # resumes (a benchmark file holds only the last attempt of a job that was killed and resumed).
    cost = {
        row_label(row, " ", ", "): sum(float(by_point[p]["compute"]["hours"]) for p in row["points"]) for row in rows
    }
    total_wall = sum(cost.values())
    commits = sorted({r.get("git_commit") or "unknown" for r in recs})
    prov = provenance(commits)

    paths = {k: Path(v) for k, v in outputs.items()}
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    first = recs[0]
    n_fake = sorted({int(r["scores"]["n_fake"]) for r in recs})
    n_real = sorted({int(r["scores"]["n_real"]) for r in recs})
    extractor = sorted({str(r["scores"]["feature_extractor"]) for r in recs})
    standard = all(bool(r["scores"].get("fid_is_standard")) for r in recs)
    fid_name = "FID" if standard else f"FID-like distance on {', '.join(extractor)} features (not FID)"
    steps = sorted({int(r["train"]["step"]) for r in recs})
    title = (
        f"{first['dataset']}: {fid_name} and recall against Pe, mean over seeds with 95 % t intervals "
        f"({'/'.join(map(str, n_fake))} generated vs {'/'.join(map(str, n_real))} held-out images)"
    )
    scores_vs_pe_figure(rows, paths["fid_vs_pe"], paths["fid_vs_pe_pdf"], title)
    samples_figure(rows, by_point, paths["samples"], grid=int(first["settings"]["sample"].get("grid", 36)))
    if "loss" in paths:
        loss_figure(rows, by_point, paths["loss"])
    if learnt and "learnt" in paths:
        step_learning_figure(rows, learnt, paths["learnt"])
    write_csv(rows, paths["csv"])
    caption = (
        f"{first['dataset']}, mean ± std over seeds; {'/'.join(map(str, n_fake))} generated vs "
        f"{'/'.join(map(str, n_real))} held-out images, {', '.join(extractor)} features."
    )
    atomic_write_text(paths["tex"], latex_table(rows, caption))
    data = {
        "sweep": sweep,
        "rows": [{k: v for k, v in r.items() if k != "paper"} for r in rows],
        "comparisons": comps,
        "departure": deps,
        "step_learning": learnt,
        "core_hours": cost,
        "core_hours_total": total_wall,
        "benchmarks_last_attempt": per_point,
        "n_fake": n_fake,
        "n_real": n_real,
        "feature_extractor": extractor,
        "steps": steps,
        "machine": _machine(recs),
        "cross_machine": cm,
        "provenance": prov,
    }
    atomic_write_text(paths["json"], json.dumps(data, indent=2, default=str) + "\n")

    rel = paths["md"].parent
    fig = {k: Path(v).relative_to(rel).as_posix() for k, v in paths.items() if k != "md"}
    cfg = first["config"]
    fam_params = {r["family"]: r["config"]["family_params"] for r in recs}
    lines = [
        f"# Study: {first['dataset']}, {len(rows)} points × {max(len(r['seeds']) for r in rows)} seeds",
        "",
        "Does advection (Pe > 0) beat pure blurring (Pe = 0), and does a gain come from transport or from the "
        "paper's intensity map (its compressive density pattern)? Each point was trained with every seed below; "
        "each seed's model drew its samples from the same prior draw and was scored on its own.",
        "",
        "## Set-up",
        "",
        f"- Data: {first['dataset']} training split for training; scores against the first "
        f"{'/'.join(map(str, n_real))} images of the held-out test split (reference statistics computed once, cached).",
        f"- Scores: {fid_name}, KID, precision/recall/density/coverage (k = 5) and the palette score, on "
        f"{'/'.join(map(str, n_fake))} generated images per seed; features: {', '.join(extractor)}.",
        f"- Model: `{cfg['model'].get('preset', 'small')}` U-Net, {'/'.join(map(str, steps))} steps of batch "
        f"{cfg['batch_size']}, lr {cfg['lr']:g}, EMA {cfg['ema_decay']:g}; seeds "
        f"{', '.join(map(str, sorted({r['seed'] for r in recs})))}.",
        "- Families: "
        + "; ".join(
            f"`{f}` "
            + ", ".join(f"{k}={v}" for k, v in sorted(p.items()) if k in ("K", "sigma_max", "sigma_min", "collision"))
            for f, p in sorted(fam_params.items())
        )
        + ".",
        f"- Machine: {_machine(recs)}; run at commit {', '.join(c[:10] for c in commits)}; "
        f"{total_wall:.2f} core-hours in all (training, sampling and scoring, one thread each; two jobs ran at once).",
        _provenance_line(prov),
        "",
        "## Results",
        "",
        "Mean ± std over seeds, and below it the 95 % Student-t interval of the mean. D_k is the operator's "
        "departure from Pe = 0 at three levels (RMS, in units of the training noise σ = 0.01; the paper's map "
        "for map = paper rows, the transport part for map = none rows; "
        f"{DEPARTURE_IMAGES} held-out images, {len(DEPARTURE_SEEDS)} velocity seeds). core-h: the time of the "
        "point's training (summed over resumes), sampling and scoring, all seeds, each on one thread (on a "
        "shared machine this is an upper bound of the CPU time).",
        "",
        markdown_table(rows, deps, cost),
        f"Tables: [`{fig['csv']}`]({fig['csv']}) (both intervals: t and bootstrap), [`{fig['tex']}`]({fig['tex']}), "
        f"[`{fig['json']}`]({fig['json']}).",
        "",
        f"![scores against Pe]({fig['fid_vs_pe']})",
        "",
        f"*{title}; the faint dots are the seeds. PDF: [{fig['fid_vs_pe_pdf']}]({fig['fid_vs_pe_pdf']}).*",
        "",
        "## Paired differences",
        "",
        "Same-seed differences against advdiff at Pe = 0 (the process without advection). A difference "
        '"exceeds the seed noise" when its 95 % Student-t interval excludes zero; with 3 seeds that interval is '
        "wide (t quantile 4.30), and the bootstrap interval of the CSV/JSON is narrower but covers less often "
        "than 95 %.",
        "",
    ]
    for c in comps:
        lines += [f"### {c['name']}", ""]
        lines += ["| score | mean difference | 95 % t interval | bootstrap interval | seeds |", "|---|---|---|---|---|"]
        for key, (label, digits, _) in SCORES.items():
            d = c[key]
            if "mean" not in d:
                continue
            f = f"+.{digits + 1}f"
            lines.append(
                f"| {label} | {d['mean']:{f}} | [{d['t_low']:{f}}, {d['t_high']:{f}}] | "
                f"[{d['ci_low']:{f}}, {d['ci_high']:{f}}] | {d['n']} |"
            )
        lines.append("")
        lines += [f"- {c[k]['sentence']}" for k in SCORES if "sentence" in c[k]]
        lines.append("")
    lines += [
        "## Samples",
        "",
        f"![samples]({fig['samples']})",
        "",
        "*The first sample grid of each point (its first seed).*",
        "",
    ]
    if "loss" in fig:
        lines += [f"![training loss]({fig['loss']})", "", "*Training loss of every seed of every point.*", ""]
    lines += _learnt_lines(rows, learnt, fig.get("learnt") if learnt else None)
    lines += [
        "## Reproducibility",
        "",
        "The same configuration and seed give bit-identical scores on one machine (the test suite checks it), "
        "but not across CPU kinds: oneDNN, PyTorch and the BLAS libraries pick different kernels on AVX-512 and "
        "AVX2 machines, and the training trajectories drift apart. The default sweep rerun on the other CPU kind "
        "of this project's machines moved single-seed FIDs (128 images) by up to 11 while some families agreed "
        "to 1e-5. "
        + (
            "The seed spread above does not include that drift; the same points and seeds run on the other "
            "float path measure it below, and a paired difference is read as real only beyond it."
            if cm
            else "This study ran on one CPU kind only, so its seed spread does not include that drift; compare it "
            "with `advdiff.stats.cross_machine_spread` on a second run before reading a difference smaller than "
            "the cross-machine spread as real (`sweep.cross_machine` names such a run's tables JSON; this report "
            "then says which differences lie beyond it)."
        ),
        "",
        *(_cross_machine_lines(cm) if cm else []),
        "## Context: the paper (not comparable)",
        "",
        "Beyond Blur reports FFHQ 128×128, TF-Inception FID on 50 000 samples, with its own network trained for "
        "days on GPUs. Different data, resolution, model, training length and sample count: these numbers frame "
        "the question and are not a reference for the table above.",
        "",
        "| Pe | FID | precision | recall |",
        "|---|---|---|---|",
        *[f"| {pe:g} | {v['fid']:.2f} | {v['precision']:.3f} | {v['recall']:.3f} |" for pe, v in PAPER_FFHQ128.items()],
        "",
        "## Conclusion (computed from the intervals above)",
        "",
        *conclusion(comps),
        *learnt_conclusion(rows, learnt),
        "",
        f"At {'/'.join(map(str, steps))} training steps the models are far from converged, so these differences "
        "describe how fast each process is learnt by a small network as much as how good its end point is.",
        "",
    ]
    atomic_write_text(paths["md"], "\n".join(lines))
    log.info("wrote the study report %s", paths["md"])
    return data
