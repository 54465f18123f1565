"""Headless Debian Chromium driven by Selenium, as in tests/pages/test_browser.py, for the page
tests of their own modules (test modules may not import each other); screenshots go to docs/ with
WAVE_UPDATE_SCREENSHOTS=1, else to a scratch folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

DOCS = Path(settings.BASE_DIR) / "docs" if os.environ.get("WAVE_UPDATE_SCREENSHOTS") else Path("/tmp/wave-screenshots")
DOCS.mkdir(exist_ok=True)
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
]


@pytest.fixture
def browser():
    os.environ["SE_OFFLINE"] = "true"  # Selenium must not try to download a driver: Debian's is used
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()
