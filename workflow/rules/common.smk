# Shared set-up: validate the config against the schema (defaults filled in, unknown keys rejected).
import re

from snakemake.utils import validate

from advdiff.yaml_files import check_yaml_files

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
    from advdiff.data import check_root

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
RES = config["resources"]
TRACKING = config["tracking"]
EXPERIMENT = TRACKING["experiment"] or f"advdiff-{SWEEP.name}"
SWEEP_DIR = f"results/sweep/{SWEEP.name}"
RUNS_DIR = "results/sweep/runs"  # training runs, named by config hash (shared by configs with equal points)
SWEEP_LOGS = f"results/logs/sweep/{SWEEP.name}"


wildcard_constraints:
    point="|".join(re.escape(p) for p in POINTS),


def point_config(wildcards):
    """The resolved training configuration of a point (a param: changing it reruns the point's jobs)."""
    return POINTS[wildcards.point].config.to_dict(include_device=True)


def run_dir(wildcards):
    return f"{RUNS_DIR}/{wildcards.point}"
