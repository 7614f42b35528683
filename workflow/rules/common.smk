# Shared set-up: validate the config against the schema (defaults filled in, unknown keys rejected).
import os
import re

from snakemake.utils import validate

from advdiff.yaml_files import check_yaml_files

# Set here, not read: the workflow's own checkout of advdiff (the repository root), from which the
# rule environment's post-deploy script (envs/advdiff.post-deploy.sh) installs the package.
os.environ.update(ADVDIFF_SOURCE=workflow.basedir)

check_yaml_files(workflow.configfiles)  # a key given twice in a config file stops here (YAML keeps the last)
validate(config, schema="../schemas/config.schema.yaml")

LBM = config["lbm"]
BENCH = config["bench"]
CORRUPT = config["corrupt"]


def setting_id(setting):
    """Folder name of an advdiff (Pe, Re) setting, e.g. pe0.06_reinf."""
    re = setting.get("reynolds")
    return f"pe{setting['peclet']:g}_re{'inf' if re is None else format(re, 'g')}"


CORRUPT_SETTINGS = {setting_id(s): s for s in CORRUPT["settings"]}


def _check_settings():
    """Build every advdiff setting once, so a bad value stops the workflow before any job runs."""
    from advdiff.corruptions import build
    from advdiff.data_settings import check_root

    check_root(CORRUPT["dataset"], CORRUPT["data_root"], "corrupt.data_root")
    for s in CORRUPT_SETTINGS.values():
        build("advdiff", peclet=s["peclet"], reynolds=s.get("reynolds"), collision=CORRUPT["collision"])


_check_settings()


# The benchmark sweep: expanded and checked once here (families' parameters, the LBM schedule at the
# data's image size, training settings), so an invalid value stops the workflow before any job runs.
from advdiff.sweep import build_sweep

SWEEP = build_sweep(config["sweep"])
# Settings used only after training (sampler, devices, tracking URI): checked now, not hours later.
from advdiff.preflight import check_workflow

check_workflow(config)
POINTS = SWEEP.points
# The sweep's points in their config order (family, then Pe, map, ...; seeds innermost): a study lists its
# points by priority, so every job of an earlier point runs before any of a later one when both are ready,
# and a study stopped early has its first points complete, all seeds of each.
POINT_RANK = {point: len(POINTS) - i for i, point in enumerate(POINTS)}


def point_priority(wildcards):
    """Snakemake priority of a per-point job: earlier sweep points first."""
    return POINT_RANK.get(wildcards.point, 0)


RES = config["resources"]
# Threads of the jobs that use a whole machine (LBM validation and benchmarks, corruption figures):
# Snakemake caps them at --cores locally; on a cluster they are each job's CPUs (cap: --max-threads).
MACHINE_THREADS = os.cpu_count() or 1


def job_resources(mem_mb, runtime, gpu=0):
    """A job's resources as Snakemake and its SLURM executor plugin read them: memory (MB), time limit
    (minutes), GPUs, and the partition of its kind (resources.slurm_partition: `gpu` when it uses one)."""
    out = {"mem_mb": mem_mb, "runtime": runtime, "gpu": gpu}
    partition = RES["slurm_partition"]["gpu" if gpu else "cpu"]
    if partition:
        out["slurm_partition"] = partition
    return out


TRACKING = config["tracking"]
EXPERIMENT = TRACKING["experiment"] or f"advdiff-{SWEEP.name}"
SWEEP_DIR = f"results/sweep/{SWEEP.name}"
RUNS_DIR = "results/sweep/runs"  # training runs, named by config hash (shared by configs with equal points)
SWEEP_LOGS = f"results/logs/sweep/{SWEEP.name}"
# Reports, tables and figures are built here; only the `publish` rule copies them into the tracked reports/.
REPORTS = "results/reports"
PUBLISHED = "reports"


def benchmark_file(rule, job="job"):
    """The benchmark file of one job (run time, memory): results/benchmarks/<rule>/<job>.tsv."""
    return f"results/benchmarks/{rule}/{job}.tsv"


def one_of(names):
    """A wildcard constraint matching exactly these names."""
    return "|".join(re.escape(n) for n in names)


def sweep_table(path, caption):
    """A table of the sweep report, shown in the HTML report with its caption."""
    return report(path, caption=f"../report/{caption}", category="Sweep", subcategory="Tables")


def benchmark_jobs():
    """(rule, job) of every job that `publish` waits for: each writes results/benchmarks/<rule>/<job>.tsv.

    Uses the figure rules' kinds (CORRUPT_KINDS, POINT_FIGURE_KINDS of corrupt.smk), so call it after
    corrupt.smk is included."""
    jobs = [("validate_lbm", "job"), ("operator_report", "job"), ("report_lbm", "job"), ("report_corruptions", "job")]
    jobs += [("bench_lbm", b) for b in BENCH["backends"]]
    jobs += [("bench_corrupt", b) for b in BENCH["backends"]] if BENCH["corrupt"] else []
    jobs += [(r, s) for r, settings in CORRUPT_KINDS.items() for s in settings]
    jobs += [("check_data", SWEEP.name), ("report_sweep", SWEEP.name)]
    jobs += [("train", p) for p in POINTS]
    jobs += [(r, f"{SWEEP.name}/{p}") for r in ("sample", "evaluate", "record", "track") for p in POINTS]
    jobs += [(r, f"{SWEEP.name}/{p}") for r, points in POINT_FIGURE_KINDS.items() for p in points]
    return jobs


wildcard_constraints:
    point="|".join(re.escape(p) for p in POINTS),


def point_config(wildcards):
    """The resolved training configuration of a point (a param: changing it reruns the point's jobs)."""
    return POINTS[wildcards.point].config.to_dict(include_device=True)


def run_dir(wildcards):
    return f"{RUNS_DIR}/{wildcards.point}"
