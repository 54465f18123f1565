"""What the browser tests share: where screenshots go, Chromium's flags, a driver, a login."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

DOCS = Path(settings.BASE_DIR) / "docs" if os.environ.get("WAVE_UPDATE_SCREENSHOTS") else Path("/tmp/wave-screenshots")
DOCS.mkdir(exist_ok=True)
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
]


def chromium() -> webdriver.Chrome:
    os.environ["SE_OFFLINE"] = "true"  # Selenium must not try to download a driver: Debian's is used
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def log_in(browser, server, user) -> None:
    browser.get(f"{server.url}/accounts/login/")
    browser.find_element(By.ID, "id_username").send_keys(user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.ID, "login").click()
    WebDriverWait(browser, 10).until(lambda b: "/view/builds/" in b.current_url)


def grant_clipboard(browser, origin: str) -> None:
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
    })


def clipboard(browser) -> str:
    """What the page's copy button put on the clipboard (grant_clipboard first)."""
    return browser.execute_async_script("navigator.clipboard.readText().then(arguments[0], e => arguments[0]('refused: ' + e))")
