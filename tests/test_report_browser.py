"""Open the report in headless Chromium: report.html from disk, and the rnn-summary markdown
artifact in the UI of a real Prefect server. The tables and every chart must render."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from imdb_rnn.evaluation import load_all_predictions
from imdb_rnn.reporting.html import render_html
from tests.conftest import PROJECT_ROOT
from tests.prefect_servers import free_port, isolated_env, stop_group, wait_until_healthy
from tests.samples import PAGE_RUN_INFO

pytestmark = pytest.mark.browser

SCREENSHOT = PROJECT_ROOT / "test-artifacts" / "report.png"


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    if os.environ.get("IMDB_RNN_REQUIRE_BROWSER") == "1":
        pytest.fail(
            "chromium and chromedriver are required: apt-get install chromium chromium-driver"
        )
    pytest.skip("chromium/chromedriver not installed (apt-get install chromium chromium-driver)")


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,2400",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_report_renders_table_and_images_in_chromium(browser, evaluations, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(
        render_html(
            "20260101T000000Z-run", evaluations, PAGE_RUN_INFO, load_all_predictions(evaluations)
        ),
        encoding="utf-8",
    )
    browser.get(page.as_uri())
    assert browser.title == "IMDb RNN comparison 20260101T000000Z-run"

    first_table_rows = browser.execute_script(
        "return document.querySelector('table tbody').rows.length"
    )
    assert first_table_rows == len(evaluations)
    highlighted = browser.execute_script(
        "return Array.from(document.querySelectorAll('td.best')).map(td => td.textContent)"
    )
    assert "0.9074" in highlighted

    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
    )
    assert len(images) == 5
    assert all(complete and width > 0 for _, complete, width in images), images

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []

    SCREENSHOT.parent.mkdir(exist_ok=True)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 100, 6000))
    assert browser.save_screenshot(str(SCREENSHOT))
    assert Path(SCREENSHOT).stat().st_size > 10_000


UI_SCREENSHOT = PROJECT_ROOT / "test-artifacts" / "ui-artifact.png"


@pytest.fixture
def prefect_ui(tmp_path) -> Iterator[str]:
    """A real ``prefect server start`` with its UI, on a free port; yields its address."""
    port = free_port()
    address = f"http://127.0.0.1:{port}"
    env = isolated_env(tmp_path / "home")
    # The UI calls the API at this address, not at the default port 4200.
    env["PREFECT_UI_API_URL"] = f"{address}/api"
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_healthy(server, f"{address}/api", log)
        yield address
    finally:
        stop_group(server)


@pytest.mark.server
def test_the_rnn_summary_artifact_is_the_whole_report_in_the_prefect_ui(
    browser, prefect_ui, evaluations, tmp_path
):
    from tasks.report import MARKDOWN_ARTIFACT_KEY, write_report_files
    from tests.samples import evidence_for

    written = write_report_files(
        "20260101T000000Z-ui",
        evaluations,
        PAGE_RUN_INFO,
        tmp_path / "reports",
        evidence_for(evaluations),
    )
    request = urllib.request.Request(
        f"{prefect_ui}/api/artifacts/",
        data=json.dumps(
            {"key": MARKDOWN_ARTIFACT_KEY, "type": "markdown", "data": written.markdown}
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        artifact = json.load(response)
    expected_images = written.markdown.count("](data:image/png;base64,")
    assert expected_images == 7  # 6 charts and the champion's coloured words

    browser.get(f"{prefect_ui}/artifacts/artifact/{artifact['id']}")
    rendered: list = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        rendered = browser.execute_script(
            "return Array.from(document.images)"
            ".filter(i => i.src.startsWith('data:image/png'))"
            ".map(i => [i.alt, i.complete, i.naturalWidth])"
        )
        if len(rendered) >= expected_images and all(c and w > 0 for _, c, w in rendered):
            break
        time.sleep(1)
    assert len(rendered) == expected_images, rendered
    assert all(complete and width > 0 for _, complete, width in rendered), rendered
    text = browser.execute_script("return document.body.innerText")
    for section in (
        "Is the difference real?",
        "Calibration",
        "Mistakes a person can read",
        "Which words moved the champion",
    ):
        assert section in text
    assert "no detectable difference" in text or "worse" in text

    UI_SCREENSHOT.parent.mkdir(exist_ok=True)
    # The UI scrolls an inner panel, not the page: size the window to the tallest element.
    height = browser.execute_script(
        "return Math.max(...Array.from(document.querySelectorAll('*')).map(e => e.scrollHeight))"
    )
    browser.set_window_size(1280, min(int(height) + 100, 12000))
    assert browser.save_screenshot(str(UI_SCREENSHOT))
