"""D2Q9 lattice Boltzmann solver of the advection-diffusion equation.

``solve`` is the entry point; ``units`` converts Pe, Fo and the blur schedule to
lattice units; ``lattice`` holds the D2Q9 constants; ``backends`` the engines.
"""

from advdiff.lbm import lattice, units
from advdiff.lbm.backends import available as available_backends
from advdiff.lbm.solver import solve

__all__ = ["available_backends", "lattice", "solve", "units"]
