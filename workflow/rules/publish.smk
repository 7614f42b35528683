# The one step that writes tracked files: copy results/reports/ into reports/ (same relative paths,
# so the pages' `figures/...` and `tables/...` links stay valid) after every report is built and
# every point's record and MLflow run exist. No other rule writes under reports/ (a test checks it).
from advdiff.reporting.publish import published_path

REPORT_FILES = sorted(
    {
        str(f)
        for r in (rules.report_lbm, rules.report_corruptions, rules.operator_report, rules.report_sweep)
        for f in r.output
        if str(f).startswith(f"{REPORTS}/")
    }
)


rule publish:
    input:
        reports=REPORT_FILES,
        tracked=expand(rules.track.output, point=POINTS),
        # run time and memory of every job, listed in the HTML report (`make report`)
        benchmarks=[
            report(
                benchmark_file(r, job),
                caption="../report/benchmark.rst",
                category="Benchmarks",
                subcategory=r,
                labels={"rule": r, "job": job},
            )
            for r, job in benchmark_jobs()
        ],
    output:
        [str(published_path(f, REPORTS, PUBLISHED)) for f in REPORT_FILES],
    log:
        "results/logs/publish.log",
    benchmark:
        benchmark_file("publish")
    localrule: True
    conda:
        "../envs/advdiff.yaml"
    params:
        sweep=SWEEP.name,
    script:
        "../scripts/publish_reports.py"
