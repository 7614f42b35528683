# Scores of each point's samples against its data set (advdiff.runs.evaluate_run).


rule evaluate:
    input:
        train=rules.train.output,
        samples=rules.sample.output.samples,
    output:
        f"{SWEEP_DIR}/{{point}}/scores.json",
    log:
        f"{SWEEP_LOGS}/evaluate/{{point}}.log",
    benchmark:
        benchmark_file("evaluate", f"{SWEEP.name}/{{point}}")
    priority: point_priority
    conda:
        "../envs/advdiff.yaml"
    threads: RES["threads"]
    resources:
        **job_resources(RES["mem_mb"]["evaluate"], RES["runtime"]["evaluate"], RES["gpu"]),
    params:
        run_dir=run_dir,
        evaluate=SWEEP.evaluate,
    script:
        "../scripts/sweep_evaluate.py"
