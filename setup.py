"""Build the C extension of the fast CPU LBM backend; all metadata lives in pyproject.toml."""

import os

from setuptools import Extension, setup

KERNELS = os.path.join("advdiff", "lbm", "kernels")
# ADVDIFF_NO_OPENMP=1 builds a single-threaded kernel for compilers without OpenMP.
OPENMP = [] if os.environ.get("ADVDIFF_NO_OPENMP") == "1" else ["-fopenmp"]

setup(
    ext_modules=[
        Extension(
            "advdiff.lbm._d2q9cpu",
            sources=[os.path.join(KERNELS, "d2q9_cpu.c")],
            depends=[os.path.join(KERNELS, "d2q9_node.h")],
            include_dirs=[KERNELS],
            extra_compile_args=["-O3", "-std=gnu11", *OPENMP],
            extra_link_args=OPENMP,
        ),
        Extension(
            "advdiff.fields._fieldcpu",
            sources=[os.path.join("advdiff", "fields", "kernels", "field_cpu.c")],
            extra_compile_args=["-O3", "-std=gnu11", *OPENMP],
            extra_link_args=OPENMP,
        ),
    ]
)
