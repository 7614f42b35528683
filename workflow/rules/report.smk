# Reports are rebuilt from result files only, under results/reports/ (REPORTS); the `publish` rule
# (publish.smk) copies them into the tracked reports/ once every record is written.
from advdiff.reporting.corruptions import FIGURES as CORRUPT_REPORT_FIGURES
from advdiff.reporting.sweep import report_point_figures

LBM_FIGURES = {
    "heat": ("heat_vs_lbm.png", "heat_vs_lbm.rst"),
    "heat_levels": ("heat_error_by_level.png", "heat_error_by_level.rst"),
    "convergence": ("gaussian_convergence.png", "gaussian_convergence.rst"),
}


rule report_lbm:
    input:
        validation=rules.validate_lbm.output.json,
        figures=[rules.validate_lbm.output[key] for key in LBM_FIGURES],
        bench=expand("results/bench/lbm_{backend}.json", backend=BENCH["backends"]),
    output:
        md=f"{REPORTS}/lbm.md",
        # copies of the validation figures, next to the page that shows them
        figures=[
            report(f"{REPORTS}/figures/{name}", caption=f"../report/{caption}", category="LBM validation")
            for name, caption in LBM_FIGURES.values()
        ],
    log:
        "results/logs/report_lbm.log",
    benchmark:
        benchmark_file("report_lbm")
    conda:
        "../envs/advdiff.yaml"
    resources:
        **job_resources(2000, 30),
    script:
        "../scripts/report_lbm.py"


rule report_corruptions:
    input:
        summaries=expand("results/corrupt/{setting}/corrupt.json", setting=CORRUPT_SETTINGS),
        bench=expand("results/bench/corrupt_{backend}.json", backend=BENCH["backends"]) if BENCH["corrupt"] else [],
    output:
        md=f"{REPORTS}/corruptions.md",
        # copies of each setting's figures (the noise families' animations are left out)
        figures=[
            report(
                f"{REPORTS}/figures/corrupt_{setting}_{name}",
                caption="../report/corruption_figure.rst",
                category="Corruption families",
                labels={"setting": setting, "figure": name},
            )
            for setting, files in CORRUPT_FILES.items()
            for name in CORRUPT_REPORT_FIGURES
            if name in files.values()
        ],
    log:
        "results/logs/report_corruptions.log",
    benchmark:
        benchmark_file("report_corruptions")
    conda:
        "../envs/advdiff.yaml"
    resources:
        **job_resources(2000, 30),
    script:
        "../scripts/report_corruptions.py"


SWEEP_REPORT = {
    "md": f"{REPORTS}/sweep_{SWEEP.name}.md",
    "table": f"{REPORTS}/tables/sweep_{SWEEP.name}.md",
    "tex": f"{REPORTS}/tables/sweep_{SWEEP.name}.tex",
    "csv": f"{REPORTS}/tables/sweep_{SWEEP.name}.csv",
    "points_csv": f"{REPORTS}/tables/sweep_{SWEEP.name}_points.csv",
    "fid_vs_pe": f"{REPORTS}/figures/sweep_{SWEEP.name}_fid_vs_pe.png",
    "samples": f"{REPORTS}/figures/sweep_{SWEEP.name}_samples.png",
}
# each row's trajectory strip, power spectra (and velocity field), copied from its first seed's point
SWEEP_POINT_FIGURES = report_point_figures([p.labels() for p in POINTS.values()], SWEEP.name)


rule report_sweep:
    input:
        records=expand(rules.record.output, point=POINTS),
        # also read, through the records: the point figures the page copies, the samples it draws
        figures=[
            f"{SWEEP_DIR}/{point}/figures/{name.removeprefix(f'sweep_{SWEEP.name}_{point}_')}"
            for name, point in SWEEP_POINT_FIGURES.items()
        ],
        samples=expand(rules.sample.output.samples, point=POINTS),
    output:
        md=sweep_table(SWEEP_REPORT["md"], "sweep_page.rst"),
        table=sweep_table(SWEEP_REPORT["table"], "sweep_table.rst"),
        tex=sweep_table(SWEEP_REPORT["tex"], "sweep_table.rst"),
        csv=sweep_table(SWEEP_REPORT["csv"], "sweep_table.rst"),
        points_csv=sweep_table(SWEEP_REPORT["points_csv"], "sweep_points_table.rst"),
        fid_vs_pe=report(
            SWEEP_REPORT["fid_vs_pe"],
            caption="../report/fid_vs_pe.rst",
            category="Sweep",
            subcategory="Figures",
        ),
        samples=report(
            SWEEP_REPORT["samples"],
            caption="../report/samples.rst",
            category="Sweep",
            subcategory="Figures",
        ),
        points=[
            report(
                f"{REPORTS}/figures/{name}",
                caption="../report/sweep_point_figure.rst",
                category="Sweep",
                subcategory="Per-point figures",
                labels={"point": point, "figure": name.removeprefix(f"sweep_{SWEEP.name}_{point}_")},
            )
            for name, point in SWEEP_POINT_FIGURES.items()
        ],
    log:
        f"{SWEEP_LOGS}/report.log",
    benchmark:
        benchmark_file("report_sweep", SWEEP.name)
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
