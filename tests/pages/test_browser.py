"""Real headless Chromium (Debian's, driven by Selenium) against the service under uvicorn.

Screenshots of the main pages are taken in every run; with WAVE_UPDATE_SCREENSHOTS=1 they replace the
ones in docs/ that the README shows.
"""

from __future__ import annotations

import base64
import re
import uuid

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from builds.models import Build
from tests.support.browser import DOCS, log_in
from tests.support.factories import PullEventFactory, UserFactory, api_token
from tests.support.helpers import REGISTRY, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_running_builds_log_grows_without_a_reload(browser, wave_server, build_worker, registry):
    user = UserFactory(email="alice@seqera.io")
    marker = uuid.uuid4().hex[:8]
    dockerfile = f"FROM {registry}/library/busybox\nRUN echo start-{marker}-$((1+1)) && sleep 5 && echo end-{marker}-$((2+2))\n"
    body = wave_server.request_container({"containerFile": base64.b64encode(dockerfile.encode()).decode(), "towerAccessToken": api_token(user)})
    _wait_for_log(body["buildId"], f"start-{marker}-2")
    log_in(browser, wave_server, user)
    browser.get(f"{wave_server.url}/view/builds/{body['buildId']}")
    log = browser.find_element(By.ID, "log")
    assert f"end-{marker}-4" not in log.text
    browser.execute_script("window.__sameDocument = true")  # gone if the page were reloaded
    WebDriverWait(browser, 60, poll_frequency=0.3).until(lambda b: f"end-{marker}-4" in b.find_element(By.ID, "log").text)
    WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, "status").text == "SUCCEEDED")
    assert browser.execute_script("return window.__sameDocument") is True
    browser.save_screenshot(str(DOCS / "build-page.png"))
    browser.get(f"{wave_server.url}/view/builds/")
    browser.save_screenshot(str(DOCS / "builds.png"))
    browser.get(f"{wave_server.url}/view/containers/{body['containerToken']}")
    browser.save_screenshot(str(DOCS / "container.png"))


def _wait_for_log(build_id: str, text: str) -> None:
    wait_until(lambda: text in Build.objects.get(pk=build_id).log, timeout=60, every=0.2)


def test_the_usage_dashboard_draws_the_totals(browser, wave_server):
    manager = UserFactory(email="boss@seqera.io", is_org_manager=True)
    for image, times in ((f"{REGISTRY}/library/busybox:latest", 5), (f"{REGISTRY}/tools/samtools:1.19", 2)):
        for _ in range(times):
            PullEventFactory(user=manager, image=image)
    PullEventFactory(image="x", fusion=True)
    log_in(browser, wave_server, manager)
    browser.get(f"{wave_server.url}/view/usage/seqera.io")
    assert browser.find_element(By.CSS_SELECTOR, '.total[data-kind="pulls"]').text == "8"  # the charts: test_dashboard_browser
    assert browser.find_element(By.CSS_SELECTOR, '.total[data-kind="fusion"]').text == "1"
    browser.get(f"{wave_server.url}/view/account/")
    browser.save_screenshot(str(DOCS / "account.png"))


def test_an_org_manager_cannot_open_another_orgs_dashboard(browser, wave_server):
    manager = UserFactory(email="boss@seqera.io", is_org_manager=True)
    log_in(browser, wave_server, manager)
    browser.get(f"{wave_server.url}/view/usage/gmail.com")
    assert browser.find_element(By.ID, "forbidden").text == "You may not see the usage of gmail.com."
    assert "Forbidden" in browser.title


def test_the_admin_login_page_is_styled_by_the_admins_stylesheet(browser, wave_server):
    browser.get(f"{wave_server.url}/admin/login/")
    header = browser.find_element(By.ID, "header")
    # Both come from admin/css/base.css only: a page without its stylesheet has a transparent block here.
    assert header.value_of_css_property("display") == "flex"
    assert header.value_of_css_property("background-color") == "rgba(65, 118, 144, 1)"  # --header-bg
    sheets = browser.execute_script("return [...document.styleSheets].map(s => s.href || '')")
    assert any(re.search(r"/static/admin/css/base\.[0-9a-f]{12}\.css$", href) for href in sheets), sheets


def test_swagger_ui_renders_the_operations_from_local_assets(browser, wave_server):
    browser.get(f"{wave_server.url}/openapi/")
    WebDriverWait(browser, 30).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, '.opblock-post [data-path="/v1alpha2/container"]')
    )
    assert browser.find_elements(By.CSS_SELECTOR, '.opblock-get [data-path="/service-info"]')
    scripts = browser.execute_script("return [...document.scripts].map(s => s.src).filter(Boolean)")
    assert scripts and all(src.startswith(f"{wave_server.url}/static/") for src in scripts), scripts
