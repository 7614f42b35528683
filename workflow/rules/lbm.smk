# The LBM solver: physical validation against exact solutions, and its benchmark.


rule validate_lbm:
    output:
        json="results/validation/lbm/lbm_validation.json",
        heat="results/validation/lbm/heat_vs_lbm.png",
        heat_levels="results/validation/lbm/heat_error_by_level.png",
        convergence="results/validation/lbm/gaussian_convergence.png",
    log:
        "results/logs/validate_lbm.log",
    benchmark:
        benchmark_file("validate_lbm")
    conda:
        "../envs/advdiff.yaml"
    threads: MACHINE_THREADS
    resources:
        **job_resources(2000, 30),
    params:
        backend=LBM["backend"],
        collisions=LBM["collisions"],
    shell:
        "advdiff -v validate lbm --backend {params.backend:q} --collision {params.collisions:q} "
        "--out results/validation/lbm > {log:q} 2>&1"


rule bench_lbm:
    output:
        "results/bench/lbm_{backend}.json",
    log:
        "results/logs/bench_lbm_{backend}.log",
    benchmark:
        benchmark_file("bench_lbm", "{backend}")
    conda:
        "../envs/advdiff.yaml"
    threads: MACHINE_THREADS
    resources:
        **job_resources(4000, 30),
    params:
        batch=BENCH["batch"],
        channels=BENCH["channels"],
        size=BENCH["size"],
        steps=BENCH["steps"],
        collision=BENCH["collision"],
        boundary=BENCH["boundary"],
    shell:
        "advdiff -v bench lbm --backend {wildcards.backend:q} --batch {params.batch:q} "
        "--channels {params.channels:q} --size {params.size:q} --steps {params.steps:q} "
        "--collision {params.collision:q} --boundary {params.boundary:q} --json {output:q} > {log:q} 2>&1"
