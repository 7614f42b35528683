"""The MLflow UI in a real browser (headless Chromium through Selenium), after the smoke sweep.

`mlflow ui` serves the smoke sweep's SQLite store; the browser checks that the experiment lists every
point with its Pe, Re and FID, that point runs are grouped under their sweep's parent run, and that
the run-comparison view opens. Screenshots go to results/ui/. Marked slow (a smoke sweep, a server and
a browser): `make test-ui` installs Chromium where it can (workflow/scripts/install_browser.sh) and
runs it; without chromium and chromedriver the tests skip and say why.
"""

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "results" / "ui"
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
WAIT = 90  # seconds for a page or the server on a busy 2-core machine


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Selenium (skips when it is not installed)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "chromium and chromedriver are not installed: run workflow/scripts/install_browser.sh as root "
            "(Debian packages chromium, chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1920,800"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(WAIT)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ui(smoke_sweep):
    """`mlflow ui` on a free local port over the smoke sweep's store; yields its URL and the store's runs."""
    from mlflow.tracking import MlflowClient

    store = smoke_sweep / "results" / "mlflow"
    uri = f"sqlite:///{store / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("advdiff-smoke")
    runs = client.search_runs([exp.experiment_id])
    port = _free_port()
    mlflow = Path(sys.executable).parent / "mlflow"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    log = (smoke_sweep / "mlflow_ui.log").open("w")
    proc = subprocess.Popen(
        [
            str(mlflow),
            "ui",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            uri,
            "--default-artifact-root",
            str(store / "artifacts"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + WAIT
        while True:
            try:
                with urllib.request.urlopen(url + "health", timeout=5) as res:
                    if res.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"mlflow ui did not start: {(smoke_sweep / 'mlflow_ui.log').read_text()[-2000:]}")
            time.sleep(1)
        yield {"url": url, "experiment": exp.experiment_id, "runs": runs}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its worker (its own process group)
        proc.wait(timeout=30)
        log.close()


def _points_and_parents(runs):
    points = [r for r in runs if "advdiff.point" in r.data.tags]
    parent_ids = {r.data.tags["mlflow.parentRunId"] for r in points if "mlflow.parentRunId" in r.data.tags}
    return points, [r for r in runs if r.info.run_id in parent_ids]


def _wait(driver, condition, what):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.5).until(lambda d: condition(d), message=what)


def _rows(driver) -> list[str]:
    """Run ids of the runs table's rows, top to bottom (ag-grid renders a row in several containers)."""
    from selenium.webdriver.common.by import By

    seen = {}
    for row in driver.find_elements(By.XPATH, "//*[@role='row'][@row-id][@row-index]"):
        seen.setdefault(row.get_attribute("row-id"), int(row.get_attribute("row-index")))
    return sorted(seen, key=seen.get)


def _cell(driver, run_id: str, column: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.XPATH, f"//*[@role='row'][@row-id='{run_id}']//*[@col-id='{column}']").text.strip()


def _toggle_column(driver, group: str, name: str) -> None:
    """Tick or untick one column in the table's column selector: ``name`` in ``group`` (Attributes, Metrics,
    Parameters or Tags; a swept value can be both a parameter and a tag)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.find_element(By.XPATH, "//button[normalize-space()='Columns']").click()
    box = _wait(driver, lambda d: d.find_element(By.XPATH, "//input[@placeholder='Search columns']"), "column search")
    box.clear()
    box.send_keys(name)
    node = "div[contains(@class, 'tree-treenode')]"
    title = "span[contains(@class, 'tree-title')]"
    item = (
        f"//*[@data-testid='column-selector-tree']//{node}[.//{title}[starts-with(normalize-space(), '{group}')]]"
        f"/following-sibling::{node}[.//{title}[normalize-space()='{name}']][1]//{title}"
    )
    _wait(driver, lambda d: d.find_element(By.XPATH, item), f"column {group}/{name} in the selector").click()
    box.send_keys(Keys.ESCAPE)
    _wait(driver, lambda d: not d.find_elements(By.XPATH, "//input[@placeholder='Search columns']"), "selector closed")


def _open_runs_table(driver, ui) -> None:
    driver.get(ui["url"])
    # a fresh view (the UI keeps columns and expanded runs in local storage), and the assistant side
    # panel, which would cover the table, closed as after a user closed it
    driver.execute_script(
        "localStorage.clear();"
        "localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false');"
        "localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'true');"
    )
    driver.get(f"{ui['url']}#/experiments/{ui['experiment']}/runs")
    _wait(driver, lambda d: "matching runs" in d.find_element("tag name", "body").text and _rows(d), "the runs table")


def _widen(driver, column: str, pixels: int) -> None:
    """Drag a column header's resize handle to the right."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    handle = driver.find_element(
        By.XPATH, f"//*[@role='columnheader'][@col-id='{column}']//*[contains(@class, 'ag-header-cell-resize')]"
    )
    ActionChains(driver).drag_and_drop_by_offset(handle, pixels, 0).move_by_offset(0, 300).perform()  # no tooltip


def _expand(driver, parent_id: str) -> None:
    from selenium.webdriver.common.by import By

    cell = f"//*[@role='row'][@row-id='{parent_id}']//*[@col-id='attributes.`Run Name`']"
    driver.find_element(By.XPATH, f"{cell}//button").click()


def test_experiment_lists_every_point_with_pe_re_and_fid(ui, browser):
    points, parents = _points_and_parents(ui["runs"])
    assert len(points) == 3  # heat, advdiff Pe 0, advdiff Pe 1 Re 10
    _open_runs_table(browser, ui)
    for parent in parents:  # point runs are nested under their sweep's run: open it
        _expand(browser, parent.info.run_id)
    _wait(browser, lambda d: {r.info.run_id for r in points} <= set(_rows(d)), "every point's row")
    for column in ("Dataset", "Source", "Models"):  # room for the columns that matter here
        _toggle_column(browser, "Attributes", column)
    _toggle_column(browser, "Metrics", "eval.fid")
    for column in ("peclet", "reynolds"):
        _toggle_column(browser, "Tags", column)
    _wait(browser, lambda d: _cell(d, points[0].info.run_id, "metrics.`eval.fid`") not in ("", "-"), "FID column")
    _widen(browser, "attributes.`Run Name`", 160)  # whole names and values in the screenshot
    _widen(browser, "metrics.`eval.fid`", 60)
    body = browser.find_element("tag name", "body").text
    for run in points:
        rid, tags = run.info.run_id, run.data.tags
        assert run.info.run_name[:12] in body, run.info.run_name  # names may be cut short with an ellipsis
        shown = float(_cell(browser, rid, "metrics.`eval.fid`"))
        assert math.isclose(shown, run.data.metrics["eval.fid"], rel_tol=1e-6), (run.info.run_name, shown)
        for tag in ("peclet", "reynolds"):
            expected = tags[tag] or "-"  # not advdiff: the tag is empty, the table shows a dash
            assert _cell(browser, rid, f"tags.`{tag}`") == expected, (run.info.run_name, tag)
    browser.save_screenshot(str(SHOTS / "runs_table.png"))


def test_point_runs_are_grouped_under_the_sweep_run(ui, browser):
    points, parents = _points_and_parents(ui["runs"])
    if not parents:
        pytest.skip("the store has no parent runs (no point run has mlflow.parentRunId): nothing to group")
    _open_runs_table(browser, ui)
    children = {
        p.info.run_id: [r.info.run_id for r in points if r.data.tags["mlflow.parentRunId"] == p.info.run_id]
        for p in parents
    }
    rows = _rows(browser)
    for parent in parents:  # collapsed: the sweep's run only
        assert parent.info.run_id in rows and not set(children[parent.info.run_id]) & set(rows)
    assert f"{len(points) + len(parents)} matching runs" in browser.find_element("tag name", "body").text
    for parent in parents:
        _expand(browser, parent.info.run_id)
    _wait(browser, lambda d: all(set(c) <= set(_rows(d)) for c in children.values()), "the nested point runs")
    rows = _rows(browser)
    for parent in parents:  # expanded: its points right below it
        at = rows.index(parent.info.run_id)
        assert set(rows[at + 1 : at + 1 + len(children[parent.info.run_id])]) == set(children[parent.info.run_id])
    browser.save_screenshot(str(SHOTS / "runs_grouped.png"))


def test_run_comparison_view_opens(ui, browser):
    points, _ = _points_and_parents(ui["runs"])
    ids = json.dumps([r.info.run_id for r in points], separators=(",", ":"))
    browser.get(f"{ui['url']}#/compare-runs?runs={ids}&experiments={json.dumps([ui['experiment']])}")
    _wait(browser, lambda d: "eval.fid" in d.find_element("tag name", "body").text, "the comparison of the runs")
    body = browser.find_element("tag name", "body").text
    for run in points:
        assert run.info.run_name in body and run.info.run_id in body, run.info.run_name
    for key in ("Parameters", "Metrics", "eval.fid", "peclet", "reynolds"):
        assert key in body, key
    browser.save_screenshot(str(SHOTS / "compare_runs.png"))
