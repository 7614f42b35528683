#!/bin/sh
# Run by Snakemake (--use-conda) once, inside the new environment of envs/advdiff.yaml: install the
# workflow's own checkout of advdiff into it, editable, so that the jobs run that checkout's code
# and find the `advdiff` command and the compiled CPU kernels (built here with the environment's
# compiler). Snakemake runs a copy of this script away from the repository, so the checkout is
# named by ADVDIFF_SOURCE, which workflow/rules/common.smk sets when the workflow is parsed.
# The dependencies are the environment's own pins (--no-deps keeps them as they are).
set -eu
: "${ADVDIFF_SOURCE:?is not set: create this environment through the workflow (snakemake --use-conda)}"
python -m pip install --no-deps -e "$ADVDIFF_SOURCE"
