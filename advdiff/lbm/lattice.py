"""D2Q9 lattice constants: the one place they are defined.

The compiled backends' node header (``kernels/d2q9_node.h``) mirrors them; a test checks that the two
agree. Direction i is ``(EX[i], EY[i])``, x along the width and y along the height: 0 rest, 1–4 the
axis directions +x, +y, −x, −y, 5–8 the diagonals (+,+), (−,+), (−,−), (+,−). See docs/solver.md,
section "Lattice directions".
"""

from __future__ import annotations

import numpy as np

Q = 9
"""Number of discrete velocities."""

EX = np.array([0, 1, 0, -1, 0, 1, -1, -1, 1], dtype=np.int64)
"""x (width-axis) component of each lattice velocity."""

EY = np.array([0, 0, 1, 0, -1, 1, 1, -1, -1], dtype=np.int64)
"""y (height-axis) component of each lattice velocity."""

W = np.array([4 / 9] + [1 / 9] * 4 + [1 / 36] * 4, dtype=np.float64)
"""Quadrature weights."""

OPPOSITE = np.array([0, 3, 4, 1, 2, 7, 8, 5, 6], dtype=np.int64)
"""Index of the velocity pointing the other way: e[OPPOSITE[i]] = -e[i]."""

CS2 = 1.0 / 3.0
"""Lattice speed of sound squared (dx = dt = 1)."""

MOMENT_EXPONENTS = ((0, 0), (1, 0), (0, 1), (2, 0), (0, 2), (1, 1), (2, 1), (1, 2), (2, 2))
"""(p, q) of the nine raw/central moments m_pq = sum_i f_i e_ix^p e_iy^q used by the
central-moment collision, in the order the kernels use."""

for _name, _arr in (("EX", EX), ("EY", EY), ("W", W), ("OPPOSITE", OPPOSITE)):
    _arr.setflags(write=False)
