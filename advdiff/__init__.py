"""advdiff: a benchmark suite for physically based image corruptions in generative diffusion models."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
