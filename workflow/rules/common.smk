# Shared set-up: validate the config against the schema (defaults filled in, unknown keys rejected).
from snakemake.utils import validate


validate(config, schema="../schemas/config.schema.yaml")

LBM = config["lbm"]
BENCH = config["bench"]
