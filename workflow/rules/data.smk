# The sweep's images: checked by a job (not at parse time), so a dry run works on a machine without
# them; the job stops with a message saying where to put them.


rule check_data:
    input:
        # the prepared FFHQ folder, when the workflow prepares it (prepare.ffhq.source set)
        [config["prepare"]["ffhq"]["out"]] if config["prepare"]["ffhq"]["source"] else [],
    output:
        f"{SWEEP_DIR}/data.json",
    log:
        f"{SWEEP_LOGS}/check_data.log",
    benchmark:
        benchmark_file("check_data", SWEEP.name)
    localrule: True
    conda:
        "../envs/advdiff.yaml"
    params:
        dataset=SWEEP.dataset,
    script:
        "../scripts/sweep_check_data.py"


# FFHQ from the user's copy (config prepare.ffhq): `snakemake prepare_ffhq --configfile config/paper.yaml`,
# or automatically before the sweep's data check when prepare.ffhq.source is set. The job writes the
# whole folder (images, manifest.sha256, prepared.json; staged beside it and renamed into place), so
# the folder is its output; a folder prepared earlier by `advdiff prepare ffhq` counts as done.
FFHQ = config["prepare"]["ffhq"]


rule prepare_ffhq:
    output:
        directory(FFHQ["out"]),
    log:
        "results/logs/prepare_ffhq.log",
    benchmark:
        benchmark_file("prepare_ffhq")
    localrule: True
    conda:
        "../envs/advdiff.yaml"
    params:
        ffhq=FFHQ,
    script:
        "../scripts/prepare_ffhq.py"
