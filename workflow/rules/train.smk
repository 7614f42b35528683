# One training run per sweep point, in results/sweep/runs/<point> (its name ends with the config hash).
# Only summary.json is declared: a job killed mid-way keeps its checkpoint, and the rerun resumes it.


rule train:
    input:
        rules.check_data.output,
    output:
        f"{RUNS_DIR}/{{point}}/summary.json",
    log:
        f"{SWEEP_LOGS}/train/{{point}}.log",
    benchmark:
        benchmark_file("train", "{point}")  # like the run folder, shared by sweeps with the same point
    priority: point_priority
    conda:
        "../envs/advdiff.yaml"
    threads: RES["threads"]
    resources:
        **job_resources(RES["mem_mb"]["train"], RES["runtime"]["train"], RES["gpu"]),
    params:
        config=point_config,
        run_dir=run_dir,
    script:
        "../scripts/sweep_train.py"
