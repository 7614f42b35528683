"""Names of runs and points: one label function for folder names, MLflow run names, tables and figures.

A run folder is named ``<label>-s<seed>-<hash>`` (:func:`run_name`) whether the workflow's sweep or
``advdiff train`` made it, so one configuration has one folder name everywhere.
"""

from __future__ import annotations

from typing import Any

from advdiff.errors import bad_value


def number_label(value: float | str | None, none: str = "inf") -> str:
    """A swept number as labels show it: ``%g``, ``none`` for None (Re = None keeps every mode), text as given."""
    if value is None:
        return none
    return value if isinstance(value, str) else format(value, "g")


def point_label(
    family: str,
    peclet: float | str | None = None,
    reynolds: float | str | None = None,
    intensity_map: str | None = "paper",
    divergence_free: bool | None = False,
    *,
    style: str = "id",
    sep: str = " ",
    before_operator: str = ", ",
) -> str:
    """A point's coordinates as one label; the family alone for the families without Pe, Re, map or projection.

    ``style``: ``id`` (folder names, ``advdiff-pe0.06-reinf-mappaper[-divfree]``), ``run`` (MLflow run
    names, ``advdiff Pe=0.06 Re=∞ map=paper[ div-free]``), ``row`` (tables and figure titles,
    ``advdiff<sep>Pe 0.06<sep>Re ∞<before_operator>map paper[, div-free]``) or ``where`` (error
    messages, ``family advdiff, Pe 0.06, Re inf, map paper[, divergence-free]``).
    """
    if family != "advdiff":
        return f"family {family}" if style == "where" else family
    if style == "id":
        return f"{family}-pe{number_label(peclet)}-re{number_label(reynolds)}-map{intensity_map}" + (
            "-divfree" if divergence_free else ""
        )
    if style == "run":
        label = f"{family} Pe={number_label(peclet)} Re={number_label(reynolds, '∞')} map={intensity_map}"
        return label + (" div-free" if divergence_free else "")
    if style == "row":
        label = f"{family}{sep}Pe {number_label(peclet)}{sep}Re {number_label(reynolds, '∞')}"
        return label + f"{before_operator}map {intensity_map}" + (", div-free" if divergence_free else "")
    if style == "where":
        label = f"family {family}, Pe {number_label(peclet)}, Re {number_label(reynolds)}, map {intensity_map}"
        return label + (", divergence-free" if divergence_free else "")
    raise bad_value("style", style, "id, run, row or where")


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
    10 hex digits of the config hash (``-divfree`` only when the velocity is divergence-free)."""
    label = point_label(family, peclet, reynolds, intensity_map, divergence_free)
    return f"{label}-s{seed}-{config_hash[:10]}"


def run_name(config: Any) -> str:
    """The folder name of a resolved :class:`~advdiff.training.TrainConfig`: :func:`point_id` of its family,
    Pe, Re, intensity map, projection and seed, which is the sweep point's id for the same configuration."""
    fam, params = config.family, config.family_params
    if fam != "advdiff":
        return point_id(fam, None, None, config.seed, config.hash())
    return point_id(
        fam,
        params.get("peclet"),
        params.get("reynolds"),
        config.seed,
        config.hash(),
        intensity_map=params.get("intensity_map", "paper"),
        divergence_free=bool(params.get("divergence_free")),
    )
