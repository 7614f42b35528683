#!/usr/bin/env bash
# Run a command with every numeric library held to the AVX2 kernels, as on an AVX2-only CPU (Zen 3):
#   workflow/scripts/avx2_float_path.sh make study
# On an AVX-512 machine (Zen 4) this computes with the kernels an AVX2 machine picks, so one machine can
# measure how far float rounding alone moves a study's scores between the two CPU kinds. The project's C
# kernels need nothing: their per-node arithmetic is the same in the AVX2 and AVX-512 clones. Every run
# record names the caps (advdiff.devices.cpu_identity), and the study page shows them.
set -euo pipefail
if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]   (for example: $0 make study)" >&2
    exit 2
fi
export ONEDNN_MAX_CPU_ISA=AVX2             # oneDNN: convolutions and their gradients
export ATEN_CPU_CAPABILITY=avx2            # PyTorch's own vectorised kernels (norms, reductions, pointwise)
export MKL_ENABLE_INSTRUCTIONS=AVX2        # MKL: matrix products and FFTs of torch
export NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"  # NumPy's dispatched loops
export OPENBLAS_CORETYPE=Haswell           # NumPy's OpenBLAS: the kernels it picks on Zen 3
exec "$@"
