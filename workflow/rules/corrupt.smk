# Pictures of the corruption families on real images, one set per advdiff (Pe, Re) setting.
# `advdiff corrupt` writes a velocity field only where advdiff moves (Pe > 0), and the sweep's
# figures an animation named after the point's family: the files differ between jobs, so each kind
# of job is its own rule (same command, disjoint wildcard constraints) that declares all it writes
# (advdiff.reporting.family_figures.figure_files).
from advdiff.reporting.family_figures import figure_files

CORRUPT_FILES = {s: figure_files(CORRUPT["families"], st["peclet"]) for s, st in CORRUPT_SETTINGS.items()}
CORRUPT_KINDS = {}  # rule name -> settings it draws
for _setting, _files in CORRUPT_FILES.items():
    CORRUPT_KINDS.setdefault("corrupt_figures" + ("_velocity" if "velocity" in _files else ""), []).append(_setting)

for _rule, _settings in CORRUPT_KINDS.items():

    rule:
        name:
            _rule
        output:
            **{key: f"results/corrupt/{{setting}}/{name}" for key, name in CORRUPT_FILES[_settings[0]].items()},
        log:
            "results/logs/corrupt_{setting}.log",
        benchmark:
            benchmark_file(_rule, "{setting}")
        wildcard_constraints:
            setting=one_of(_settings),
        conda:
            "../envs/advdiff.yaml"
        threads: MACHINE_THREADS
        resources:
            **job_resources(3000, 30),
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
    benchmark:
        benchmark_file("bench_corrupt", "{backend}")
    conda:
        "../envs/advdiff.yaml"
    threads: MACHINE_THREADS
    resources:
        **job_resources(4000, 30),
    shell:
        "advdiff -v bench corrupt --backend {wildcards.backend:q} --json {output:q} > {log:q} 2>&1"


# The sweep's per-point figures (the point's own family only): one rule per family, and one more for
# advdiff points that move (their velocity field).
POINT_FIGURES_DIR = f"{SWEEP_DIR}/{{point}}/figures"
POINT_FILES = {p: figure_files([pt.family], pt.peclet) for p, pt in POINTS.items()}
POINT_FIGURE_KINDS = {}  # rule name -> points it draws
for _point, _files in POINT_FILES.items():
    _name = f"point_figures_{POINTS[_point].family}" + ("_velocity" if "velocity" in _files else "")
    POINT_FIGURE_KINDS.setdefault(_name, []).append(_point)

for _rule, _points in POINT_FIGURE_KINDS.items():

    rule:
        name:
            _rule
        input:
            rules.check_data.output,
        output:
            **{key: f"{POINT_FIGURES_DIR}/{name}" for key, name in POINT_FILES[_points[0]].items()},
        log:
            f"{SWEEP_LOGS}/figures/{{point}}.log",
        benchmark:
            benchmark_file(_rule, f"{SWEEP.name}/{{point}}")
        wildcard_constraints:
            point=one_of(_points),
        priority: point_priority
        conda:
            "../envs/advdiff.yaml"
        threads: 1
        resources:
            **job_resources(1500, 30),
        params:
            config=point_config,
            n_images=SWEEP.figures["n_images"],
        script:
            "../scripts/sweep_point_figures.py"
