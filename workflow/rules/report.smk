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
        bench=expand("results/bench/corrupt_{backend}.json", backend=BENCH["backends"]) if BENCH["corrupt"] else [],
    output:
        "reports/corruptions.md",
    log:
        "results/logs/report_corruptions.log",
    conda:
        "../envs/advdiff.yaml"
    script:
        "../scripts/report_corruptions.py"


SWEEP_REPORT = {
    "md": f"reports/sweep_{SWEEP.name}.md",
    "table": f"reports/tables/sweep_{SWEEP.name}.md",
    "tex": f"reports/tables/sweep_{SWEEP.name}.tex",
    "csv": f"reports/tables/sweep_{SWEEP.name}.csv",
    "points_csv": f"reports/tables/sweep_{SWEEP.name}_points.csv",
    "fid_vs_pe": f"reports/figures/sweep_{SWEEP.name}_fid_vs_pe.png",
    "samples": f"reports/figures/sweep_{SWEEP.name}_samples.png",
}


rule report_sweep:
    input:
        records=expand(rules.record.output, point=POINTS),
    output:
        md=SWEEP_REPORT["md"],
        table=SWEEP_REPORT["table"],
        tex=SWEEP_REPORT["tex"],
        csv=SWEEP_REPORT["csv"],
        points_csv=SWEEP_REPORT["points_csv"],
        fid_vs_pe=report(
            SWEEP_REPORT["fid_vs_pe"],
            caption="../report/fid_vs_pe.rst",
            category="Sweep",
        ),
        samples=report(
            SWEEP_REPORT["samples"],
            caption="../report/samples.rst",
            category="Sweep",
        ),
    log:
        f"{SWEEP_LOGS}/report.log",
    localrule: True
    conda:
        "../envs/advdiff.yaml"
    params:
        name=SWEEP.name,
        compare_paper=SWEEP.compare_paper,
    script:
        "../scripts/report_sweep.py"


rule sweep:
    """Only the benchmark sweep: its report and every point's MLflow run (`snakemake sweep`)."""
    input:
        rules.report_sweep.output,
        expand(rules.track.output, point=POINTS),
    localrule: True
