"""Open report.html in headless Chromium: the table and every chart must render."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from imdb_rnn.reporting.html import load_all_predictions, render_html
from tests.conftest import PROJECT_ROOT
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
