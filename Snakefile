# advdiff workflow: thin; the rules live in workflow/rules/, the logic in the advdiff package.
# Run with `make run` (sets up .venv first) or `snakemake --cores all` inside the environment.


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/lbm.smk"
include: "workflow/rules/corrupt.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        # The result files too: they are never committed, so a fresh clone (whose committed
        # reports look up to date) still runs every job and rebuilds the reports from them.
        rules.report_lbm.input,
        rules.report_corruptions.input,
        rules.report_lbm.output,
        rules.report_corruptions.output,
    default_target: True
