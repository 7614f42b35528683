# Shared set-up: validate the config against the schema (defaults filled in, unknown keys rejected).
from snakemake.utils import validate


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

    for s in CORRUPT_SETTINGS.values():
        build("advdiff", peclet=s["peclet"], reynolds=s.get("reynolds"), collision=CORRUPT["collision"])


_check_settings()
