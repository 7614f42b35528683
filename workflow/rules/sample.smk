# Samples of each trained point (the evaluation scores the first sweep.evaluate.n of them).


rule sample:
    input:
        rules.train.output,
    output:
        grid=f"{SWEEP_DIR}/{{point}}/samples.png",
        samples=f"{SWEEP_DIR}/{{point}}/samples.pt",
        summary=f"{SWEEP_DIR}/{{point}}/samples.json",
    log:
        f"{SWEEP_LOGS}/sample/{{point}}.log",
    benchmark:
        benchmark_file("sample", f"{SWEEP.name}/{{point}}")
    priority: point_priority
    conda:
        "../envs/advdiff.yaml"
    threads: RES["threads"]
    resources:
        **job_resources(RES["mem_mb"]["sample"], RES["runtime"]["sample"], RES["gpu"]),
    params:
        config=point_config,
        run_dir=run_dir,
        n=SWEEP.sample["n"],
        seed=SWEEP.sample["seed"],
        sampler=SWEEP.sample["sampler"],
    script:
        "../scripts/sweep_sample.py"
