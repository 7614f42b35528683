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
