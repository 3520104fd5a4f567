"""The planner page end to end in headless Chromium: load it from the served API, enter a planner key, upload
a small scenario, run it, watch it finish, and see the KPI table and the charts rendered.

Needs Debian's chromium and chromium-driver (`.ci/run` installs them); skipped without them on a developer's
machine, a failure under CI or with ROUTING_ENGINE_REQUIRE_BROWSER=1. Selenium is given both binaries'
paths, so it never looks for (or downloads) a driver.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml

from routing_engine.api.main import create_app
from routing_engine.api.routes.scenarios import ScenarioSettings
from routing_engine.api.settings import Settings
from routing_engine.ledger import keys
from routing_engine.ledger.testing import tiny_network
from routing_engine.scenarios.metrics import METRICS

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: Baseline, variants la-closed and split-doubled, sweep split over split_cost 0 and 10 (5 allocations).
SMALL_FILE = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "small.yaml"


def _browser_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("ROUTING_ENGINE_REQUIRE_BROWSER"))


def _need(condition: bool, why: str) -> None:
    if condition:
        return
    if _browser_required():
        pytest.fail(f"{why}; install chromium and chromium-driver (see .ci/run)")
    pytest.skip(why)


@dataclass
class Served:
    url: str
    token: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app under uvicorn on a free port, in a thread of this process, with a planner key; scenario runs
    in the service's own process (workers=1), as a small scenario needs no more."""
    directory = tmp_path_factory.mktemp("planner")
    network = directory / "network.json"
    network.write_text(tiny_network().model_dump_json())
    app = create_app(Settings(database_url=f"sqlite:///{directory / 'ledger.db'}", network=network, sweep_interval_s=0))
    app.state.scenario_settings = ScenarioSettings(workers=1)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port before uvicorn does
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "the service stopped while starting"
        assert time.monotonic() < deadline, "the service did not start within 60 s"
        time.sleep(0.05)
    try:
        _, token = keys.create(app.state.ledger.engine, "planner", name="planner-page")
        yield Served(f"http://127.0.0.1:{listener.getsockname()[1]}", token)
    finally:
        server.should_exit = True
        thread.join(30)
        listener.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need(CHROMIUM.is_file() and CHROMEDRIVER.is_file(), f"{CHROMIUM} or {CHROMEDRIVER} is missing")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _need(False, "selenium is not installed (pip install -e '.[dev]')")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not go looking for drivers online
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        # Nothing may reach the network: no component updates, sync, safe browsing or first-run pings.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--no-first-run",
        "--no-default-browser-check",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, condition: Any, timeout_s: float, what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(condition, message=what)


def _open_with_key(driver: Any, served: Served) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{served.url}/planner")
    key = driver.find_element(By.ID, "api-key")
    key.clear()
    key.send_keys(served.token)
    driver.find_element(By.ID, "load-list").click()
    _wait(
        driver,
        # By script: the list may be rebuilt while it is read (the page also loads it with a remembered key).
        lambda d: (
            "base-us" in d.execute_script("return [...document.querySelectorAll('#bundled option')].map(o => o.value)")
        ),
        20,
        "the bundled scenarios were not listed",
    )


def test_the_planner_page_runs_an_uploaded_scenario_and_shows_the_kpi_table_and_the_charts(
    browser: Any, served: Served
) -> None:
    from selenium.webdriver.common.by import By

    _open_with_key(browser, served)
    browser.find_element(By.ID, "upload").send_keys(str(SMALL_FILE))
    assert browser.find_element(By.ID, "source-upload").is_selected()
    browser.find_element(By.ID, "time-limit").send_keys("3")
    browser.find_element(By.ID, "run").click()

    _wait(browser, lambda d: d.find_element(By.ID, "status-line").is_displayed(), 20, "no progress shown")
    _wait(browser, lambda d: d.find_element(By.ID, "results").is_displayed(), 180, "the run did not finish")
    assert browser.find_element(By.ID, "error").text == ""
    assert "5 of 5 runs done" in browser.find_element(By.ID, "status").text
    assert browser.find_element(By.ID, "progress").get_attribute("value") == "5"

    header = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#kpi-table thead th")]
    assert header == ["measure", "baseline", "la-closed", "split-doubled"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#kpi-table tbody tr")
    assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == [m.label for m in METRICS]
    orders = next(r for r in rows if r.find_element(By.TAG_NAME, "td").text == "orders")
    assert [td.text for td in orders.find_elements(By.TAG_NAME, "td")][1] == "12"

    def charts_loaded(d: Any) -> list[dict[str, Any]] | bool:
        sizes: list[dict[str, Any]] = d.execute_script(
            "return [...document.querySelectorAll('#charts img')].map("
            "i => ({name: i.dataset.chart, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,"
            " shown: i.getBoundingClientRect().width}))"
        )
        return sizes if sizes and all(s["complete"] and s["width"] > 0 for s in sizes) else False

    charts = _wait(browser, charts_loaded, 30, "the charts did not load")
    assert [c["name"] for c in charts][:3] == ["cost-breakdown", "kpi-deltas", "node-utilisation"]
    assert "sweep-split" in [c["name"] for c in charts]
    assert all(c["width"] > 300 and c["height"] > 100 and c["shown"] > 0 for c in charts), charts


def test_the_planner_page_shows_the_field_at_fault_of_a_bad_scenario(
    browser: Any, served: Served, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    _open_with_key(browser, served)
    bad = tmp_path / "bad.yaml"
    scenario = yaml.safe_load(SMALL_FILE.read_text())
    bad.write_text(yaml.safe_dump({**scenario, "variants": [{"name": "v", "changes": [{"kind": "teleport"}]}]}))
    browser.find_element(By.ID, "upload").send_keys(str(bad))
    browser.find_element(By.ID, "run").click()
    error = _wait(browser, lambda d: d.find_element(By.ID, "error").text, 20, "no error shown")
    assert "yaml.variants[v].changes[0].kind" in error
    assert "teleport" in error
    assert not browser.find_element(By.ID, "results").is_displayed()


def test_chromium_is_present_where_the_browser_test_is_required() -> None:
    """Under CI the page test must run, not skip: this fails loudly when the browser was not installed."""
    if not _browser_required():
        pytest.skip("neither CI nor ROUTING_ENGINE_REQUIRE_BROWSER is set")
    assert CHROMIUM.is_file(), CHROMIUM
    assert CHROMEDRIVER.is_file(), CHROMEDRIVER
    assert shutil.which("chromium") is not None
