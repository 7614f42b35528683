"""Snakemake adapter: FFHQ from the user's copy into the sweep's folder (count and checksums checked)."""

import logging

from advdiff.data.ffhq import prepare_ffhq
from advdiff.errors import ConfigError

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO)
ffhq = smk.params.ffhq
if not ffhq["source"]:
    raise ConfigError(
        "prepare.ffhq.source=None is not allowed here: expected the path of your FFHQ copy (the "
        "official thumbnails128x128 or images1024x1024 folder, or a zip of it); FFHQ is not "
        "downloaded"
    )
prepare_ffhq(
    ffhq["source"],
    ffhq["out"],
    size=ffhq["size"],
    expect=ffhq["expect"] or None,
    metadata=ffhq["metadata"],
    progress=False,
)
