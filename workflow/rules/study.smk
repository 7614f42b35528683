# A study (`make study`, config/study.yaml): the sweep's points trained, sampled, scored and tracked
# as in `make run`, then the statistics report over seeds (advdiff.reporting.study) built under
# results/reports/ and copied into reports/ by `publish_study`, the study's only write to tracked files.
STUDY_REPORT = {
    "md": f"{REPORTS}/{SWEEP.name}.md",
    "tex": f"{REPORTS}/tables/{SWEEP.name}.tex",
    "csv": f"{REPORTS}/tables/{SWEEP.name}.csv",
    "json": f"{REPORTS}/tables/{SWEEP.name}.json",
    "fid_vs_pe": f"{REPORTS}/figures/{SWEEP.name}_scores_vs_pe.png",
    "fid_vs_pe_pdf": f"{REPORTS}/figures/{SWEEP.name}_scores_vs_pe.pdf",
    "samples": f"{REPORTS}/figures/{SWEEP.name}_samples.png",
    "loss": f"{REPORTS}/figures/{SWEEP.name}_loss.png",
    "learnt": f"{REPORTS}/figures/{SWEEP.name}_step_learning.png",
}


rule report_study:
    input:
        records=expand(rules.record.output, point=POINTS),
        tracked=expand(rules.track.output, point=POINTS),
        cross_machine=[SWEEP.cross_machine] if SWEEP.cross_machine else [],  # its edits rebuild the page
    output:
        **STUDY_REPORT,
    log:
        f"results/logs/report_{SWEEP.name}.log",
    benchmark:
        benchmark_file("report_study", SWEEP.name)
    conda:
        "../envs/advdiff.yaml"
    resources:
        **job_resources(4000, 30),
    params:
        sweep=SWEEP.name,
        runs_dir=RUNS_DIR,
        benchmarks=f"results/benchmarks/{SWEEP.name}",
        cross_machine=SWEEP.cross_machine or "",
    script:
        "../scripts/report_study.py"


rule publish_study:
    input:
        reports=list(STUDY_REPORT.values()),
    output:
        [str(published_path(f, REPORTS, PUBLISHED)) for f in STUDY_REPORT.values()],
    log:
        f"results/logs/publish_{SWEEP.name}.log",
    benchmark:
        benchmark_file("publish_study", SWEEP.name)
    localrule: True
    conda:
        "../envs/advdiff.yaml"
    params:
        sweep=SWEEP.name,
    script:
        "../scripts/publish_reports.py"


rule study:
    input:
        rules.publish_study.output,
