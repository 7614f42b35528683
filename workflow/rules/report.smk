# Reports are rebuilt from result files only.


rule report_lbm:
    input:
        validation=rules.validate_lbm.output.json,
        figures=[
            rules.validate_lbm.output.heat,
            rules.validate_lbm.output.heat_levels,
            rules.validate_lbm.output.convergence,
        ],
        bench=expand("results/bench/lbm_{backend}.json", backend=BENCH["backends"]),
    output:
        "reports/lbm.md",
    log:
        "results/logs/report_lbm.log",
    conda:
        "../envs/advdiff.yaml"
    script:
        "../scripts/report_lbm.py"


rule report_corruptions:
    input:
        summaries=expand("results/corrupt/{setting}/corrupt.json", setting=CORRUPT_SETTINGS),
        bench=expand("results/bench/corrupt_{backend}.json", backend=BENCH["backends"])
        if BENCH["corrupt"]
        else [],
    output:
        "reports/corruptions.md",
    log:
        "results/logs/report_corruptions.log",
    conda:
        "../envs/advdiff.yaml"
    script:
        "../scripts/report_corruptions.py"
