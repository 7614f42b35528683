# advdiff workflow: thin; the rules live in workflow/rules/, the logic in the advdiff package.
# Run with `make run` (sets up .venv first) or `snakemake --cores all` inside the environment (both
# use the default profile, workflow/profiles/default); on a cluster
# `snakemake --workflow-profile workflow/profiles/slurm --configfile config/paper.yaml`.
from snakemake.utils import min_version

min_version("8.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/lbm.smk"
include: "workflow/rules/corrupt.smk"
include: "workflow/rules/operator.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/track.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/publish.smk"
include: "workflow/rules/study.smk"


rule all:
    default_target: True
    input:
        # Everything, then `publish` as the last job: the reports are built under results/reports/
        # (never committed, so a fresh clone whose committed reports look up to date still runs
        # every job) and copied into reports/ only after every record and MLflow run exists.
        rules.publish.input,
        rules.publish.output,
