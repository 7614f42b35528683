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
        # lists: `:q` quotes every element, so no config value is ever read by the shell
        families=lambda wc: [arg for f in CORRUPT["families"] for arg in ("--family", f)],
        peclet=lambda wc: CORRUPT_SETTINGS[wc.setting]["peclet"],
        reynolds=lambda wc: (
            []
            if CORRUPT_SETTINGS[wc.setting].get("reynolds") is None
            else ["--reynolds", CORRUPT_SETTINGS[wc.setting]["reynolds"]]
        ),
        data=lambda wc: ["--dataset", CORRUPT["dataset"]]
        + (["--data-root", CORRUPT["data_root"]] if CORRUPT["data_root"] else []),
        n=CORRUPT["n_images"],
        collision=CORRUPT["collision"],
        out=lambda wc: f"results/corrupt/{wc.setting}",
    shell:
        "advdiff -v corrupt {params.families:q} {params.data:q} --n {params.n:q} --peclet {params.peclet:q} "
        "{params.reynolds:q} --collision {params.collision:q} --out {params.out:q} > {log:q} 2>&1"


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
        "advdiff -v bench corrupt --backend {wildcards.backend:q} --json {output:q} > {log:q} 2>&1"


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
