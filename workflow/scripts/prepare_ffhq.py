"""Snakemake adapter: FFHQ from the user's copy into the sweep's folder (count and checksums checked)."""

from advdiff.data.ffhq import prepare_ffhq
from advdiff.errors import ConfigError
from advdiff.sweep import configure_job

smk = snakemake  # type: ignore[name-defined]  # noqa: F821  (injected by Snakemake)
configure_job(smk.threads, smk.log[0])  # one thread per reserved core: no oversubscription
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
