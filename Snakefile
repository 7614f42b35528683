# advdiff workflow: thin; the rules live in workflow/rules/, the logic in the advdiff package.
# Run with `make run` (sets up .venv first) or `snakemake --cores all` inside the environment;
# on a cluster `snakemake --profile workflow/profiles/slurm --configfile config/paper.yaml`.


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


rule all:
    default_target: True
    input:
        # The result files too: they are never committed, so a fresh clone (whose committed
        # reports look up to date) still runs every job and rebuilds the reports from them.
        rules.report_lbm.input,
        rules.report_corruptions.input,
        rules.report_lbm.output,
        rules.report_corruptions.output,
        rules.operator_report.output,
        rules.report_sweep.input,
        rules.report_sweep.output,
        expand(rules.track.output, point=POINTS),
