# The sweep's images: checked by a job (not at parse time), so a dry run works on a machine without
# them; the job stops with a message saying where to put them.


rule check_data:
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
