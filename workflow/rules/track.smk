# Each point's result files -> one record (what the reports read) -> one MLflow run.
# The MLflow store (results/mlflow/ unless tracking.uri says otherwise) is written by every point's train,
# sample, evaluate, record and track jobs under a file lock: shared, it is no job's output; each job's
# declared files say what it added (tests/workflow/test_declared_outputs.py lists the exceptions).


rule record:
    input:
        train=rules.train.output[0],
        samples=rules.sample.output.summary,
        scores=rules.evaluate.output[0],
        strip=f"{POINT_FIGURES_DIR}/trajectory_strip.png",
    output:
        f"{SWEEP_DIR}/{{point}}/record.json",
    log:
        f"{SWEEP_LOGS}/record/{{point}}.log",
    benchmark:
        benchmark_file("record", f"{SWEEP.name}/{{point}}")
    priority: point_priority
    localrule: True
    conda:
        "../envs/advdiff.yaml"
    params:
        run_dir=run_dir,
        figures=lambda wc: f"{SWEEP_DIR}/{wc.point}/figures",
    script:
        "../scripts/sweep_record.py"


rule track:
    input:
        rules.record.output,
    output:
        f"{SWEEP_DIR}/{{point}}/tracking.json",
    log:
        f"{SWEEP_LOGS}/track/{{point}}.log",
    benchmark:
        benchmark_file("track", f"{SWEEP.name}/{{point}}")
    priority: point_priority
    localrule: True
    conda:
        "../envs/advdiff.yaml"
    params:
        experiment=EXPERIMENT,
        uri=TRACKING["uri"],
        # run time, CPU time and memory of the point's jobs, logged to its run as job.<rule>.* metrics
        benchmarks=lambda wc: {
            r: benchmark_file(r, wc.point if r == "train" else f"{SWEEP.name}/{wc.point}")
            for r in ("train", "sample", "evaluate", "record")
        },
    script:
        "../scripts/sweep_track.py"
