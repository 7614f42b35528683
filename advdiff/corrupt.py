"""The figures of ``advdiff corrupt``, importable from here as before: see :mod:`advdiff.reporting.family_figures`."""

from advdiff.reporting.family_figures import STRIP_LEVELS, corruption_figures, figure_files

__all__ = ["STRIP_LEVELS", "corruption_figures", "figure_files"]
