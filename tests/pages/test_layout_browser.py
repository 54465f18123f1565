"""The layout in Chromium: every page fits a 375 px phone (mobile emulation, so the viewport meta is
what decides the width), a 404 is a styled page in the layout, the keyboard's focus is visible.
Screenshots: docs/layout-*.png (WAVE_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import re

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from builds.models import Build
from tests.support.browser import DOCS, clipboard, grant_clipboard, log_in
from tests.support.factories import BuildFactory, ContainerRequestFactory, MirrorFactory, PullEventFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PHONE = 375
LONG = "registry.example.org/a-rather-long-organisation/an-image-name-that-does-not-break:" + "0123456789abcdef" * 3


def as_phone(browser) -> None:
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": PHONE, "height": 812, "deviceScaleFactor": 1, "mobile": True})


def scroll_width(browser) -> int:
    return browser.execute_script("return document.documentElement.scrollWidth")


def test_every_page_fits_a_375_px_phone(browser, wave_server, busybox):
    owner = UserFactory(email="alice@seqera.io", is_staff=True)
    build = BuildFactory(user=owner, org="seqera.io", status=Build.Status.FAILED, target_image=LONG, reason="x" * 300,
                         log="".join(f"step {i}: " + "y" * 200 + "\n" for i in range(30)))
    container = ContainerRequestFactory(user=owner, org="seqera.io", target_image=LONG, container_image=LONG)
    mirror = MirrorFactory(user=owner, org="seqera.io", target_image=LONG)
    PullEventFactory(org="seqera.io", image=LONG, user=owner)
    pages = [
        "/view/containers/new", "/view/builds/", f"/view/builds/{build.id}", f"/view/containers/{container.token}", f"/view/mirrors/{mirror.id}",
        "/view/inspect/", f"/view/inspect/?image={busybox}", "/view/usage/", "/view/usage/seqera.io", "/view/account/",
        "/view/nothing-here",
    ]
    as_phone(browser)
    for path in ("/accounts/login/", "/view/containers/new"):  # signed out
        browser.get(f"{wave_server.url}{path}")
        assert browser.execute_script("return window.innerWidth") == PHONE
        assert scroll_width(browser) <= PHONE, path
    log_in(browser, wave_server, owner)
    browser.get(f"{wave_server.url}/view/account/")
    browser.find_element(By.ID, "id_name").send_keys("phone")
    browser.find_element(By.ID, "id_name").submit()
    wide = {}
    for path in pages:
        browser.get(f"{wave_server.url}{path}")
        assert browser.find_element(By.TAG_NAME, "h1").is_displayed(), path
        wide[path] = scroll_width(browser)
    assert {path: width for path, width in wide.items() if width > PHONE} == {}
    # A wide table scrolls inside its own box: the build list's table is wider than the phone.
    browser.get(f"{wave_server.url}/view/builds/")
    table = browser.find_element(By.TAG_NAME, "table")
    assert browser.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", table)
    browser.save_screenshot(str(DOCS / "layout-375-builds.png"))
    browser.get(f"{wave_server.url}/view/account/")
    browser.save_screenshot(str(DOCS / "layout-375-account.png"))


def test_a_missing_page_is_a_styled_404_in_the_layout(browser, wave_server):
    browser.get(f"{wave_server.url}/view/builds/nope_1")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert "No build nope_1" in browser.find_element(By.ID, "not-found").text
    links = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "nav a")]
    assert links == ["New container", "Sign in"]
    # The stylesheet came through WhiteNoise: the header has the site's colour, not the browser's.
    header = browser.find_element(By.TAG_NAME, "header")
    assert header.value_of_css_property("background-color") == "rgba(29, 35, 48, 1)"
    browser.save_screenshot(str(DOCS / "layout-404.png"))


def test_the_keyboards_focus_is_visible_and_skips_to_the_content(browser, wave_server):
    log_in(browser, wave_server, UserFactory(email="bob@seqera.io"))
    browser.get(f"{wave_server.url}/view/builds/")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    skip = browser.switch_to.active_element
    assert skip.get_attribute("class") == "skip-link" and skip.is_displayed()
    assert skip.location["x"] >= 0 and skip.value_of_css_property("outline-style") == "solid"
    assert skip.value_of_css_property("outline-width") == "3px"
    skip.send_keys(Keys.TAB)
    link = browser.switch_to.active_element
    assert link.text == "New container" and link.value_of_css_property("outline-style") == "solid"
    browser.save_screenshot(str(DOCS / "layout-focus.png"))
    # The skip link moves the focus to the content: the next tab lands on its first control.
    browser.get(f"{wave_server.url}/view/builds/")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "content"
    browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "f-q"


def test_the_stylesheet_is_collected_hashed_and_cached_for_good(wave_server):
    page = httpx.get(f"{wave_server.url}/view/nothing-here", timeout=30).text
    href = re.search(r'<link rel="stylesheet" href="(/static/wave/site\.[0-9a-f]{12}\.css)">', page).group(1)
    response = httpx.get(f"{wave_server.url}{href}", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")
    assert "immutable" in response.headers["cache-control"] and ":focus-visible" in response.text


def test_a_new_tokens_snippet_is_copied_to_the_clipboard(browser, wave_server):
    user = UserFactory(email="carl@seqera.io")
    log_in(browser, wave_server, user)
    grant_clipboard(browser, wave_server.url)
    browser.get(f"{wave_server.url}/view/account/")
    browser.find_element(By.ID, "id_name").send_keys("nextflow")
    browser.find_element(By.ID, "id_name").submit()
    token = browser.find_element(By.CSS_SELECTOR, "#new-token code").text
    button = browser.find_element(By.CSS_SELECTOR, 'button[data-copy="snippet-nextflow"]')
    assert button.is_displayed()
    button.click()
    said = browser.find_element(By.CSS_SELECTOR, "[aria-live]")  # the button's "Copied" lasts 2 s; this stays
    WebDriverWait(browser, 10).until(lambda b: said.get_attribute("textContent") == "Copied to the clipboard")
    copied = clipboard(browser)
    assert copied.strip() == browser.find_element(By.ID, "snippet-nextflow").text.strip()
    assert "wave {\n    enabled  = true\n    endpoint = '" in copied and f"tower {{\n    accessToken = '{token}'\n}}" in copied
