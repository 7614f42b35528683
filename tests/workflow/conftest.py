"""The smoke sweep, run once per test session and shared by the workflow and MLflow UI tests."""

import pytest


@pytest.fixture(scope="session")
def smoke_sweep(tmp_path_factory):
    """The tiny sweep (tests/workflow/smoke.yaml) end to end: train, sample, evaluate, record, track, report.

    Returns its working folder (results/ inside, its MLflow store in results/mlflow/mlflow.db)."""
    pytest.importorskip("mlflow")
    from advdiff.data import find_fashion_mnist
    from tests.workflow.helpers import SMOKE, snakemake

    try:
        find_fashion_mnist()
    except Exception as exc:  # noqa: BLE001 - any reason the data is missing skips the smoke run
        pytest.skip(f"Fashion-MNIST is not installed ({exc}); run `make data`")
    work = tmp_path_factory.mktemp("smoke")
    res = snakemake("sweep", "--configfile", str(SMOKE), cwd=work)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return work
