"""The sweep's tables and figures, from the point records of the workflow (never from MLflow).

:func:`write_sweep_report` reads the ``record.json`` of every sweep point
(:func:`advdiff.sweep.build_record`) and writes the page ``sweep_<name>.md`` with its tables
(``tables/sweep_<name>.md``, ``.tex``, ``.csv``: one row per setting, mean ± std over seeds of every
score and the cost; ``tables/sweep_<name>_points.csv``: one row per point) and figures (FID against
Pe, sample grids, each row's trajectory strip, velocity field and spectra; copies left by points no
longer in the sweep are removed). See docs/scores.md, section "The sweep report".
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from advdiff.naming import number_label, point_label

PAPER_FFHQ128: dict[float, dict[str, float]] = {
    0.0: {"fid": 55.87, "precision": 0.798, "recall": 0.109, "density": 0.762, "coverage": 0.482},
    0.02: {"fid": 56.57, "precision": 0.797, "recall": 0.102, "density": 0.806, "coverage": 0.491},
    0.04: {"fid": 51.44, "precision": 0.815, "recall": 0.115, "density": 0.921, "coverage": 0.539},
    0.06: {"fid": 36.64, "precision": 0.826, "recall": 0.243, "density": 1.040, "coverage": 0.665},
    0.08: {"fid": 37.41, "precision": 0.817, "recall": 0.247, "density": 1.043, "coverage": 0.662},
    0.10: {"fid": 42.88, "precision": 0.764, "recall": 0.187, "density": 0.854, "coverage": 0.556},
    0.12: {"fid": 48.62, "precision": 0.688, "recall": 0.183, "density": 0.683, "coverage": 0.510},
}
"""Beyond Blur (Gruszczynski et al. 2025), FFHQ 128x128, advdiff with every mode (Re = ∞)."""
PAPER_SETTING = "FFHQ-128, advdiff, Re = ∞, TF-Inception FID on 50 000 samples (Gruszczynski et al. 2025)"

SCORES = ("fid", "kid", "precision", "recall", "density", "coverage", "palette")
COLUMNS = {  # key -> (header, digits)
    "fid": ("FID", 2),
    "fid_clean": ("FID clean", 2),  # clean-fid's "clean" mode, the paper's FID (only when some point has it)
    "kid": ("KID", 4),
    "precision": ("P", 3),
    "recall": ("R", 3),
    "density": ("D", 3),
    "coverage": ("C", 3),
    "palette": ("palette", 4),
    "train_ips": ("train img/s", 1),
    "sample_ips": ("sample img/s", 2),
    "hours": ("hours", 3),
}


def load_records(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Read point records (``record.json``)."""
    return [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]


def _re_label(record: Mapping[str, Any]) -> str:
    if record["family"] != "advdiff":
        return "–"
    return number_label(record["reynolds"], "∞")


def _pe_label(record: Mapping[str, Any]) -> str:
    return number_label(record["peclet"], "–")


def _intensity_map(record: Mapping[str, Any]) -> str | None:
    """advdiff's intensity map (``paper`` or ``none``); None for other families and records that lack it."""
    if record["family"] != "advdiff":
        return None
    value = record.get("intensity_map")
    return value if value is not None else (record.get("config") or {}).get("family_params", {}).get("intensity_map")


def _divergence_free(record: Mapping[str, Any]) -> bool | None:
    """Whether advdiff's velocity is divergence-free; None for other families and records that lack it."""
    if record["family"] != "advdiff":
        return None
    value = record.get("divergence_free")
    if value is None:
        value = (record.get("config") or {}).get("family_params", {}).get("divergence_free")
    return None if value is None else bool(value)


def _map_label(value: str | None) -> str:
    return "–" if value is None else value


def _div_label(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "no")


def _variant(row: Mapping[str, Any]) -> str:
    """The advdiff operator of a row in words, e.g. ``map paper`` or ``map none, div-free``."""
    return f"map {row['map']}" + (", div-free" if row["divergence_free"] else "")


def row_label(row: Mapping[str, Any], sep: str, before_operator: str) -> str:
    """A row's name for figure titles: the family, and for advdiff its Pe, Re, map and projection."""
    if row["family"] != "advdiff":
        return row["family"]
    return point_label(
        row["family"],
        row["pe"],
        row["re"],
        row["map"],
        row["divergence_free"],
        style="row",
        sep=sep,
        before_operator=before_operator,
    )


def _values(record: Mapping[str, Any]) -> dict[str, float | None]:
    s = record["scores"]
    out: dict[str, float | None] = {k: s.get(k) for k in SCORES}
    out["fid_clean"] = s.get("fid_clean")
    out["train_ips"] = record["train"].get("images_per_second")
    out["sample_ips"] = record["sample"].get("images_per_second")
    out["hours"] = record["compute"]["hours"]
    return out


def paper_row(record: Mapping[str, Any]) -> dict[str, float] | None:
    """The paper's numbers for a record whose setting matches (advdiff, Re = ∞, the paper's intensity map,
    a velocity that is not divergence-free, a Pe of the paper's table)."""
    if record["family"] != "advdiff" or record["reynolds"] is not None or record["peclet"] is None:
        return None
    if _intensity_map(record) not in ("paper", None) or _divergence_free(record):
        return None
    for pe, row in PAPER_FFHQ128.items():
        if math.isclose(pe, record["peclet"], abs_tol=1e-9):
            return row
    return None


def _mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    xs = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if not xs:
        return None, None
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else None)


def _row_key(rec: Mapping[str, Any]) -> tuple:
    """What makes a table row, seeds apart: (family, Pe, Re, intensity map, divergence-free)."""
    return rec["family"], rec["peclet"], rec["reynolds"], _intensity_map(rec), _divergence_free(rec)


def aggregate(records: Sequence[Mapping[str, Any]], compare_paper: bool = False) -> list[dict[str, Any]]:
    """One row per (data set, family, Pe, Re, intensity map, divergence-free): mean and std over seeds."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for rec in records:
        groups.setdefault((rec["dataset"], *_row_key(rec)), []).append(rec)
    order = {"ddpm": 0, "heat": 1, "blur": 2, "advdiff": 3}
    maps = {"paper": 0, "none": 1}

    def sort_key(key: tuple) -> tuple:
        ds, fam, pe, re, imap, div = key
        return (
            ds,
            order.get(fam, 9),
            fam,
            -1.0 if pe is None else pe,
            math.inf if re is None else re,
            maps.get(imap, 9),
            str(imap),
            bool(div),
        )

    rows = []
    for key in sorted(groups, key=sort_key):
        recs = sorted(groups[key], key=lambda r: r["seed"])
        first = recs[0]
        vals = [_values(r) for r in recs]
        row: dict[str, Any] = {
            "dataset": first["dataset"],
            "family": first["family"],
            "peclet": first["peclet"],
            "reynolds": first["reynolds"],
            "intensity_map": _intensity_map(first),
            "divergence_free": _divergence_free(first),
            "pe": _pe_label(first),
            "re": _re_label(first),
            "map": _map_label(_intensity_map(first)),
            "div": _div_label(_divergence_free(first)),
            "seeds": [r["seed"] for r in recs],
            "points": [r["point"] for r in recs],
            "n_fake": sorted({int(r["scores"]["n_fake"]) for r in recs}),
            "n_real": sorted({int(r["scores"]["n_real"]) for r in recs}),
            "feature_extractor": sorted({str(r["scores"]["feature_extractor"]) for r in recs}),
            "fid_is_standard": all(bool(r["scores"].get("fid_is_standard")) for r in recs),
            "compute": sorted({r["compute"]["kind"] for r in recs}),
            "steps": sorted({int(r["train"]["step"]) for r in recs}),
            "fourier_max": (first.get("schedule") or {}).get("fourier_max"),
        }
        for col in COLUMNS:
            row[col], row[f"{col}_std"] = _mean_std([v[col] for v in vals])
        row["paper"] = paper_row(first) if compare_paper else None
        rows.append(row)
    return rows


def _fmt(mean: float | None, std: float | None, digits: int, pm: str = " ± ") -> str:
    if mean is None:
        return "–"
    text = f"{mean:.{digits}f}"
    return text + (f"{pm}{std:.{digits}f}" if std is not None else "")


def _count(row: Mapping[str, Any]) -> str:
    return f"{'/'.join(map(str, row['n_fake']))} / {'/'.join(map(str, row['n_real']))}"


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The table's score columns: ``fid_clean`` only when some row has it."""
    return [c for c in COLUMNS if c != "fid_clean" or any(r.get("fid_clean") is not None for r in rows)]


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The Markdown table (one line per row, paper numbers in their own columns when present)."""
    paper = any(r["paper"] for r in rows)
    columns = _columns(rows)
    head = [
        "data",
        "family",
        "Pe",
        "Re",
        "map",
        "div-free",
        "Fo_max",
        *(COLUMNS[c][0] for c in columns),
        "seeds",
        "gen / real images",
        "features",
    ]
    head[head.index("hours")] = "CPU/GPU-h"
    if paper:
        head += ["paper FID (clean-fid)", "paper P", "paper R", "paper D", "paper C"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r["dataset"],
            r["family"],
            r["pe"],
            r["re"],
            r["map"],
            r["div"],
            "–" if r["fourier_max"] is None else f"{r['fourier_max']:.3g}",
        ]
        cells += [_fmt(r[c], r[f"{c}_std"], COLUMNS[c][1]) for c in columns]
        cells[-1] += f" {'/'.join(r['compute'])}"
        cells += [str(len(r["seeds"])), _count(r), ", ".join(r["feature_extractor"])]
        if paper:
            p = r["paper"]
            cells += (
                [f"{p[k]:.2f}" if k == "fid" else f"{p[k]:.3f}" for k in SCORES[:1] + SCORES[2:6]] if p else ["–"] * 5
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def tex_escape(text: str) -> str:
    """``text`` with the characters LaTeX treats specially escaped, for table cells and captions."""
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("%", r"\%"),
        ("&", r"\&"),
        ("#", r"\#"),
        ("∞", r"$\infty$"),
        ("–", "--"),
        ("±", r"$\pm$"),
    ):
        text = text.replace(a, b)
    return text


def latex_table(rows: Sequence[Mapping[str, Any]], caption: str) -> str:
    """A booktabs LaTeX table of the same rows."""
    paper = any(r["paper"] for r in rows)
    cols = ["family", "Pe", "Re", "map", "div-free", "FID", "KID", "P", "R", "D", "C", "palette", "img/s", "h"]
    if paper:
        cols += ["FID (paper)"]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{" + "l" * 5 + "r" * (len(cols) - 5) + "}",
        r"\toprule",
        " & ".join(cols) + r" \\",
        r"\midrule",
    ]
    dataset = None
    for r in rows:
        if r["dataset"] != dataset:
            dataset = r["dataset"]
            lines.append(rf"\multicolumn{{{len(cols)}}}{{l}}{{\emph{{{tex_escape(dataset)}}}}} \\")
        cells = [r["family"], r["pe"], r["re"], r["map"], r["div"]]
        cells += [_fmt(r[c], r[f"{c}_std"], COLUMNS[c][1], pm=" ± ") for c in SCORES]
        cells += [_fmt(r["train_ips"], r["train_ips_std"], 1), _fmt(r["hours"], r["hours_std"], 3)]
        if paper:
            cells.append(f"{r['paper']['fid']:.2f}" if r["paper"] else "–")
        lines.append(" & ".join(tex_escape(c) for c in cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + tex_escape(caption) + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """Group rows as CSV: every column's mean and std, counts, extractor and the paper's numbers."""
    fields = [
        "dataset",
        "family",
        "peclet",
        "reynolds",
        "intensity_map",
        "divergence_free",
        "fourier_max",
        "n_seeds",
        "seeds",
    ]
    for col in _columns(rows):
        fields += [col, f"{col}_std"]
    fields += ["n_fake", "n_real", "feature_extractor", "fid_is_standard", "compute", "steps"]
    fields += [f"paper_{k}" for k in ("fid", "precision", "recall", "density", "coverage")]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            out = {k: r.get(k) for k in fields if k in r}
            out.update(
                n_seeds=len(r["seeds"]),
                seeds=" ".join(map(str, r["seeds"])),
                reynolds="" if r["family"] != "advdiff" else ("inf" if r["reynolds"] is None else r["reynolds"]),
                intensity_map=r["intensity_map"] or "",
                divergence_free="" if r["divergence_free"] is None else str(r["divergence_free"]).lower(),
                n_fake=" ".join(map(str, r["n_fake"])),
                n_real=" ".join(map(str, r["n_real"])),
                feature_extractor=" ".join(r["feature_extractor"]),
                compute=" ".join(r["compute"]),
                steps=" ".join(map(str, r["steps"])),
            )
            for k in ("fid", "precision", "recall", "density", "coverage"):
                out[f"paper_{k}"] = r["paper"][k] if r["paper"] else ""
            writer.writerow(out)


def write_points_csv(records: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """One row per point (seeds apart)."""
    fields = [
        "point",
        "dataset",
        "family",
        "peclet",
        "reynolds",
        "intensity_map",
        "divergence_free",
        "seed",
        "config_hash",
        "steps",
        *SCORES,
        "fid_clean",
        "train_ips",
        "sample_ips",
        "hours",
        "compute",
        "n_fake",
        "n_real",
        "feature_extractor",
    ]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for rec in records:
            v = _values(rec)
            writer.writerow(
                {
                    "point": rec["point"],
                    "dataset": rec["dataset"],
                    "family": rec["family"],
                    "peclet": rec["peclet"],
                    "reynolds": _re_label(rec).replace("–", "").replace("∞", "inf"),
                    "intensity_map": _intensity_map(rec) or "",
                    "divergence_free": "" if _divergence_free(rec) is None else str(_divergence_free(rec)).lower(),
                    "seed": rec["seed"],
                    "config_hash": rec["config_hash"],
                    "steps": rec["train"]["step"],
                    **v,
                    "compute": rec["compute"]["kind"],
                    "n_fake": rec["scores"]["n_fake"],
                    "n_real": rec["scores"]["n_real"],
                    "feature_extractor": rec["scores"]["feature_extractor"],
                }
            )


def fid_vs_pe_figure(rows: Sequence[Mapping[str, Any]], out: str | Path, title: str) -> Path:
    """FID against Pe, one line per (Re, map, divergence-free) of advdiff, other families as horizontal lines.

    The colour gives Re, the line style and marker the operator (intensity map, projection).
    """
    from advdiff.reporting.figures import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    adv = [r for r in rows if r["family"] == "advdiff" and r["fid"] is not None]
    moving = [r for r in adv if r["peclet"] != 0]
    at_rest = {r["map"]: r for r in adv if r["peclet"] == 0}  # Pe = 0: one row per map, no velocity

    def operator(r: Mapping[str, Any]) -> tuple[str, bool]:
        return r["map"], bool(r["divergence_free"])

    res = sorted({r["re"] for r in moving}, key=lambda s: math.inf if s == "∞" else float(s))
    variants = sorted({operator(r) for r in moving} | {(m, False) for m in at_rest}, key=lambda v: (v[0] != "paper", v))
    styles = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D")]
    series = [(re_, v) for re_ in res for v in variants if any(r["re"] == re_ and operator(r) == v for r in moving)]
    series += [(None, (m, False)) for m in at_rest if not any(v[0] == m for _, v in series)]  # lone Pe = 0 points
    for reynolds, (imap, div) in series:
        # The Pe = 0 row of the map (no velocity: Re and the projection do not matter) starts each line.
        same = [r for r in moving if r["re"] == reynolds and operator(r) == (imap, div)]
        pts = ([at_rest[imap]] if imap in at_rest else []) + sorted(same, key=lambda r: r["peclet"])
        line, marker = styles[variants.index((imap, div)) % len(styles)]
        label = "advdiff, " + ("Pe = 0" if reynolds is None else f"Re = {reynolds}")
        if len(variants) > 1:
            label += ", " + _variant({"map": imap, "divergence_free": div})
        ax.errorbar(
            [r["peclet"] for r in pts],
            [r["fid"] for r in pts],
            yerr=[r["fid_std"] or 0 for r in pts],
            color=f"C{res.index(reynolds) % 4 if reynolds in res else 0}",
            linestyle=line,
            marker=marker,
            capsize=3,
            label=label,
        )
    for i, r in enumerate(x for x in rows if x["family"] != "advdiff" and x["fid"] is not None):
        ax.axhline(r["fid"], linestyle="--", color=f"C{(i + 4) % 10}", label=r["family"])
    paper = [(pe, v["fid"]) for pe, v in PAPER_FFHQ128.items()] if any(r["paper"] for r in rows) else []
    if paper:
        ax.plot(*zip(*paper, strict=True), "k:", marker="s", label="paper (FFHQ-128)")
    extractor = ", ".join(sorted({e for r in rows for e in r["feature_extractor"]}))
    counts = ", ".join(sorted({str(n) for r in rows for n in r["n_fake"]}))
    standard = all(r["fid_is_standard"] for r in rows)
    ax.set_xlabel("Péclet number Pe")
    ax.set_ylabel("FID" if standard else f"FID-like distance ({extractor}; not FID)")
    ax.set_title(f"{title}\n{counts} generated images, {extractor} features", fontsize=9)
    ax.legend(fontsize=8)
    return save(fig, out)


def samples_figure(
    rows: Sequence[Mapping[str, Any]], records: Mapping[str, Mapping[str, Any]], out: str | Path, grid: int = 36
) -> Path:
    """First ``grid`` samples of each row's first seed, one panel per row."""
    import torch

    from advdiff.reporting.figures import pyplot, save, show_image
    from advdiff.reporting.samples import grid_image

    plt = pyplot()
    n = len(rows)
    cols = min(4, n)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(2.6 * cols, 2.9 * nrows), squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        fig.delaxes(ax)  # an empty slot of the last row would leave a blank panel
    for ax, row in zip(axes.flat, rows, strict=False):
        ax.axis("off")
        rec = records[row["points"][0]]
        samples = torch.load(rec["sample"]["samples"], map_location="cpu", weights_only=True)[:grid]
        show_image(ax, grid_image(samples.float().numpy(), columns=max(1, int(math.sqrt(len(samples))))))
        ax.set_title(row_label(row, " ", "\n"), fontsize=9)
    return save(fig, out)


POINT_FIGURES = ("trajectory_strip", "velocity_field", "power_spectra")
"""The per-point figures copied into the report, as ``figures/sweep_<name>_<point>_<kind>.png``."""


def report_point_figures(points: Sequence[Mapping[str, Any]], name: str) -> dict[str, str]:
    """The per-point figure copies that :func:`write_sweep_report` makes, known before any job runs:
    file name -> the point it shows.

    ``points`` are the sweep's point labels (:meth:`advdiff.sweep.SweepPoint.labels`: point, family,
    peclet, reynolds, intensity_map, divergence_free, seed). Each row shows the figures of its first
    seed: the trajectory strip and power spectra, and the velocity field where advdiff moves (Pe > 0),
    as :func:`advdiff.reporting.family_figures.figure_files` says. The workflow declares these files as outputs.
    """
    from advdiff.reporting.family_figures import figure_files

    first: dict[tuple, Mapping[str, Any]] = {}
    for p in sorted(points, key=lambda p: p["seed"]):
        first.setdefault(_row_key(p), p)
    names = {}
    for p in first.values():
        files = set(figure_files([p["family"]], p["peclet"]).values())
        names.update(
            {f"sweep_{name}_{p['point']}_{kind}.png": p["point"] for kind in POINT_FIGURES if f"{kind}.png" in files}
        )
    return names


def stale_point_figures(figs: Path, name: str, keep: set[Path]) -> list[Path]:
    """This sweep's per-point figure copies in ``figs`` that are not in ``keep`` (points that left the sweep).

    Only names of the exact form ``sweep_<name>_<point id>_<kind>.png`` count (point ids as
    :func:`advdiff.naming.point_id` makes them): other sweeps' files are never listed.
    """
    from advdiff.naming import POINT_ID_PATTERN

    pattern = re.compile(rf"sweep_{re.escape(name)}_{POINT_ID_PATTERN}_(?:{'|'.join(POINT_FIGURES)})\.png")
    return sorted(p for p in figs.glob(f"sweep_{name}_*.png") if p not in keep and pattern.fullmatch(p.name))


def remove_stale_point_figures(figs: Path, name: str, keep: set[Path]) -> None:
    """Delete :func:`stale_point_figures`."""
    for path in stale_point_figures(figs, name, keep):
        path.unlink()


def _device(rec: Mapping[str, Any]) -> str:
    """The device a run trained on, with the CPU's model and vector kind where the record names them."""
    compute = rec.get("compute", {})
    cpu = (compute.get("versions") or {}).get("cpu")
    if compute.get("device", "cpu") == "cpu" and isinstance(cpu, Mapping):
        return f"cpu ({cpu.get('model', '?')}, {cpu.get('kind', '?')} {cpu.get('family_model', '?')})"
    return str(compute.get("device", "?"))


def _arithmetic(rec: Mapping[str, Any]) -> str:
    """float32 or bfloat16 autocast: what the run's training computed in (``amp`` resolved on its machine)."""
    amp = rec.get("train", {}).get("amp")
    return "bfloat16 autocast" if amp is True else ("float32" if amp is False else "not recorded")


def write_sweep_report(
    record_paths: Sequence[str | Path], out_md: str | Path, *, name: str, compare_paper: bool = False
) -> dict[str, Path]:
    """Write the sweep's page, tables and figures next to ``out_md`` (docs/scores.md, "The sweep report")."""
    records = load_records(record_paths)
    if not records:
        raise ValueError("write_sweep_report needs at least one point record")
    out = Path(out_md)
    tables = out.parent / "tables"
    figs = out.parent / "figures"
    tables.mkdir(parents=True, exist_ok=True)
    figs.mkdir(parents=True, exist_ok=True)
    rows = aggregate(records, compare_paper)
    by_point = {r["point"]: r for r in records}
    first = records[0]
    settings = first["settings"]
    cfg = first["config"]
    extractor = ", ".join(sorted({str(r["scores"]["feature_extractor"]) for r in records}))
    standard = all(bool(r["scores"].get("fid_is_standard")) for r in records)
    caption = (
        f"{first['dataset']}: {len(records)} runs, {settings['evaluate']['n']} generated images scored "
        f"against {first['scores']['n_real']} real ones on {extractor} features"
        + ("" if standard else " (not comparable with published FID)")
        + "; mean ± std over seeds"
        + (
            "; measured departures from Pe = 0: reports/operator.md"
            if any(r["family"] == "advdiff" for r in records)
            else ""
        )
        + "."
    )
    paths = {
        "md_table": tables / f"sweep_{name}.md",
        "tex": tables / f"sweep_{name}.tex",
        "csv": tables / f"sweep_{name}.csv",
        "points_csv": tables / f"sweep_{name}_points.csv",
        "fid_vs_pe": figs / f"sweep_{name}_fid_vs_pe.png",
        "samples": figs / f"sweep_{name}_samples.png",
    }
    table = markdown_table(rows)
    paths["md_table"].write_text(f"{caption}\n\n{table}", encoding="utf-8")
    paths["tex"].write_text(latex_table(rows, caption), encoding="utf-8")
    write_csv(rows, paths["csv"])
    write_points_csv(records, paths["points_csv"])
    fid_vs_pe_figure(rows, paths["fid_vs_pe"], f"{first['dataset']}, sweep '{name}'")
    samples_figure(rows, by_point, paths["samples"], grid=int(settings["sample"].get("grid", 36)))
    strips = []
    for row in rows:
        rec = by_point[row["points"][0]]
        for kind in POINT_FIGURES:
            src = rec["files"].get(kind)
            if src and Path(src).is_file():
                dst = figs / f"sweep_{name}_{row['points'][0]}_{kind}.png"
                shutil.copyfile(src, dst)
                strips.append((row, kind, dst))
    remove_stale_point_figures(figs, name, {dst for _, _, dst in strips})
    steps = ", ".join(sorted({str(r["train"]["step"]) for r in records}))
    lines = [
        f"# Benchmark sweep `{name}`",
        "",
        "Rebuilt by the workflow from the result files of every sweep point (`results/sweep/`), not from MLflow.",
        f"Networks: U-Net preset `{cfg['model']['preset']}`, {steps} training steps, batch {cfg['batch_size']}; "
        f"{settings['evaluate']['n']} generated images per run scored against {first['scores']['n_real']} real "
        f"images ({settings['evaluate']['real_split']} split) on **{extractor}** features.",
        "",
    ]
    if not standard:
        lines += [
            "**The FID/KID/P/R/D/C columns are computed on non-standard features: they are not FID and "
            "cannot be compared with published numbers.**",
            "",
        ]
    lines += [
        "## Table",
        "",
        caption,
        "",
        table,
        "Columns: map = advdiff's intensity map (paper: the authors' operator, ρ = 0.95 + 0.1 x read out "
        "clipped to [0, 1]; none: the solver on the image itself); div-free = lattice curl of a stream function; "
        "Fo_max = σ_max²/(2L²); palette = mean 1-Wasserstein distance of per-channel intensity histograms "
        "(lower is better); "
        "train img/s = training images per second; hours = wall time of training, sampling and scoring "
        "on the named device. Pe = 0 (no velocity) is one row per map.",
        "",
    ]
    if any(r["paper"] for r in rows):
        lines += [f"Paper columns: {PAPER_SETTING}.", ""]
    lines += [
        f"Also as LaTeX ([{paths['tex'].name}](tables/{paths['tex'].name})) and CSV "
        f"([{paths['csv'].name}](tables/{paths['csv'].name}), per point: "
        f"[{paths['points_csv'].name}](tables/{paths['points_csv'].name})).",
        "",
    ]
    lines += [
        "## Figures",
        "",
        f"![FID against Pe](figures/{paths['fid_vs_pe'].name})",
        "",
        f"![Samples](figures/{paths['samples'].name})",
        "",
    ]
    for row, kind, dst in strips:
        lines += [f"![{kind.replace('_', ' ')}: {row_label(row, ', ', ', ')}](figures/{dst.name})", ""]
    lines += [
        "## Runs",
        "",
        "| point | seed | steps | device | training arithmetic | MLflow tag `advdiff.point` |",
        "|---|---|---|---|---|---|",
    ]
    for rec in sorted(records, key=lambda r: r["point"]):
        lines.append(
            f"| {rec['point']} | {rec['seed']} | {rec['train']['step']} | {_device(rec)} | {_arithmetic(rec)} | "
            f"`{rec['point']}` |"
        )
    lines += ["", "Browse every run, its loss curve and artifacts: `make mlflow-ui` (http://127.0.0.1:5000).", ""]
    out.write_text("\n".join(lines), encoding="utf-8")
    paths["md"] = out
    return paths
