# The advdiff operator itself, measured without training: its departure from Pe = 0, split into
# the compressive part of the paper's intensity map and the transport of the image.

OPERATOR_FIGURES = {
    "operator_departure_28px": "operator_departure.rst",
    "operator_departure_128px": "operator_departure.rst",
    "operator_transport_threshold": "operator_transport_threshold.rst",
    "operator_compressive_spectra": "operator_compressive_spectra.rst",
}


rule operator_report:
    output:
        json="results/operator/operator.json",
        report=f"{REPORTS}/operator.md",
        figures=[
            report(
                f"{REPORTS}/figures/{name}.png",
                caption=f"../report/{caption}",
                category="Operator",
                labels={"figure": name.removeprefix("operator_")},
            )
            for name, caption in OPERATOR_FIGURES.items()
        ],
    log:
        "results/logs/operator_report.log",
    benchmark:
        benchmark_file("operator_report")
    conda:
        "../envs/advdiff.yaml"
    threads: 1
    resources:
        **job_resources(2000, 60),
    params:
        data=lambda wc: ["--data-root", CORRUPT["data_root"]] if CORRUPT["data_root"] else [],
        figures=lambda wc, output: os.path.dirname(output.figures[0]),
    shell:
        "advdiff -v analyze operator --out results/operator --report {output.report:q} "
        "--figures {params.figures:q} --threads {threads} {params.data:q} > {log:q} 2>&1"
