# The sweep's images: checked by a job (not at parse time), so a dry run works on a machine without
# them; the job stops with a message saying where to put them.


rule check_data:
    input:
        # the prepared FFHQ folder, when the workflow prepares it (prepare.ffhq.source set)
        [f"{config['prepare']['ffhq']['out']}/prepared.json"] if config["prepare"]["ffhq"]["source"] else [],
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
# or automatically before the sweep's data check when prepare.ffhq.source is set.
FFHQ = config["prepare"]["ffhq"]


rule prepare_ffhq:
    output:
        f"{FFHQ['out']}/prepared.json",
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
