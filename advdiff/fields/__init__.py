"""Stochastic velocity fields that drive the advection-diffusion corruption.

``SpectralTurbulence`` generates batched spectral turbulence with rotating phases;
``velocity_callable`` turns it and a schedule into the ``velocity`` argument of
:func:`advdiff.lbm.solve`; ``energy_spectrum`` measures the shell-summed spectrum.
"""

from advdiff.fields.spectrum import energy_spectrum, wavenumbers
from advdiff.fields.turbulence import (
    LAWS,
    SpectralTurbulence,
    amplitude,
    realised_rms_ratio,
    reynolds_without_cutoff,
    velocity_callable,
)

__all__ = [
    "LAWS",
    "SpectralTurbulence",
    "amplitude",
    "energy_spectrum",
    "realised_rms_ratio",
    "reynolds_without_cutoff",
    "velocity_callable",
    "wavenumbers",
]
