# Pictures of the corruption families on real images, one set per advdiff (Pe, Re) setting.


rule corrupt_figures:
    output:
        strip="results/corrupt/{setting}/trajectory_strip.png",
        spectra="results/corrupt/{setting}/power_spectra.png",
        summary="results/corrupt/{setting}/corrupt.json",
    log:
        "results/logs/corrupt_{setting}.log",
    conda:
        "../envs/advdiff.yaml"
    threads: workflow.cores
    resources:
        mem_mb=3000,
    params:
        families=lambda wc: " ".join(f"--family {f}" for f in CORRUPT["families"]),
        peclet=lambda wc: CORRUPT_SETTINGS[wc.setting]["peclet"],
        reynolds=lambda wc: (
            ""
            if CORRUPT_SETTINGS[wc.setting].get("reynolds") is None
            else f"--reynolds {CORRUPT_SETTINGS[wc.setting]['reynolds']}"
        ),
        data=lambda wc: (
            f"--dataset {CORRUPT['dataset']}"
            + (f" --data-root {CORRUPT['data_root']}" if CORRUPT["data_root"] else "")
        ),
        n=CORRUPT["n_images"],
        collision=CORRUPT["collision"],
    shell:
        "advdiff -v corrupt {params.families} {params.data} --n {params.n} --peclet {params.peclet} "
        "{params.reynolds} --collision {params.collision} --out results/corrupt/{wildcards.setting} > {log} 2>&1"


rule bench_corrupt:
    output:
        "results/bench/corrupt_{backend}.json",
    log:
        "results/logs/bench_corrupt_{backend}.log",
    conda:
        "../envs/advdiff.yaml"
    threads: workflow.cores
    resources:
        mem_mb=4000,
    shell:
        "advdiff -v bench corrupt --backend {wildcards.backend} --json {output} > {log} 2>&1"


rule point_figures:
    input:
        rules.check_data.output,
    output:
        strip=f"{SWEEP_DIR}/{{point}}/figures/trajectory_strip.png",
        summary=f"{SWEEP_DIR}/{{point}}/figures/corrupt.json",
    log:
        f"{SWEEP_LOGS}/figures/{{point}}.log",
    conda:
        "../envs/advdiff.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        config=point_config,
        n_images=SWEEP.figures["n_images"],
    script:
        "../scripts/sweep_point_figures.py"
