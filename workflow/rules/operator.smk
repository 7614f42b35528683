# The advdiff operator itself, measured without training: its departure from Pe = 0, split into
# the compressive part of the paper's intensity map and the transport of the image.


rule operator_report:
    output:
        json="results/operator/operator.json",
        report="reports/operator.md",
        figures=[
            "reports/figures/operator_departure_28px.png",
            "reports/figures/operator_departure_128px.png",
            "reports/figures/operator_transport_threshold.png",
            "reports/figures/operator_compressive_spectra.png",
        ],
    log:
        "results/logs/operator_report.log",
    conda:
        "../envs/advdiff.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        data=lambda wc: ["--data-root", CORRUPT["data_root"]] if CORRUPT["data_root"] else [],
    shell:
        "advdiff -v analyze operator --out results/operator --report {output.report:q} "
        "--figures reports/figures --threads {threads} {params.data:q} > {log:q} 2>&1"
