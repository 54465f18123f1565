"""The new-container walk in Chromium, signed out: search a package of the tests' own channel, add it,
request the image, land on the request's page, follow its build to its final state (the digest, no
reload) and copy the pull command from the request's page; wide and 375 px wide.
Screenshots docs/new-container-*.png (WAVE_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from builds.models import Build
from containers.models import ContainerRequest
from tests.support.browser import DOCS, clipboard, grant_clipboard
from tests.support.servers import start_server, stop_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def conda_server(tmp_path, conda_channel, busybox):
    """The service with the tests' channel as its configured one and conda images laid on busybox."""
    server = start_server(tmp_path / "server.log", WAVE_CONDA_CHANNELS=conda_channel, WAVE_CONDA_BASE_PACKAGES="",
                          WAVE_CONDA_BASE_IMAGE=busybox)
    yield server
    stop_server(server)


def _walk(browser, server, query: str, spec: str, shots: str) -> None:
    browser.get(f"{server.url}/")
    WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/view/containers/new"))
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "new-container").get_attribute("data-enhanced") == "true")
    assert browser.find_element(By.ID, "kind-conda").is_selected()  # packages first: the main use
    assert not browser.find_element(By.ID, "image").is_displayed()  # the other kinds' fields stay hidden
    browser.find_element(By.ID, "q").send_keys(query)
    add = WebDriverWait(browser, 30).until(lambda b: b.find_element(By.CSS_SELECTOR, f'#results button[data-spec="{spec}"]'))
    assert "noarch" in add.find_element(By.XPATH, "..").text  # the platforms it is built for
    add.click()
    assert browser.find_element(By.ID, "packages").get_attribute("value").split() == [spec]
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    browser.save_screenshot(str(DOCS / f"new-container-{shots}search.png"))
    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 30).until(lambda b: "/view/containers/new" not in b.current_url)
    assert browser.current_url.startswith(f"{server.url}/view/containers/")
    request_page = browser.current_url
    request = ContainerRequest.objects.get(token=request_page.rsplit("/", 1)[1])
    browser.save_screenshot(str(DOCS / f"new-container-{shots}request.png"))
    browser.find_element(By.CSS_SELECTOR, 'a[href^="/view/builds/"]').click()
    browser.execute_script("window.__sameDocument = true")  # gone if the page were reloaded
    WebDriverWait(browser, 240, poll_frequency=0.5).until(lambda b: b.find_element(By.ID, "status").text in ("SUCCEEDED", "FAILED"))
    assert browser.find_element(By.ID, "status").text == "SUCCEEDED", browser.find_element(By.TAG_NAME, "main").text
    assert spec.split("=")[0] in browser.find_element(By.ID, "log").text  # the log names the package it installed
    # The final state, filled in without a reload: the digest the build recorded.
    build = Build.objects.get(pk=request.build_id)
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "digest").text == build.digest)
    assert build.digest.startswith("sha256:") and browser.execute_script("return window.__sameDocument") is True
    browser.save_screenshot(str(DOCS / f"new-container-{shots}build.png"))
    # Back on the request's page, the pull command is copied: the name the request was answered with.
    browser.get(request_page)
    grant_clipboard(browser, server.url)
    docker = browser.find_element(By.CSS_SELECTOR, 'pre[data-tool="Docker"]')
    browser.find_element(By.CSS_SELECTOR, f'button[data-copy="{docker.get_attribute("id")}"]').click()
    WebDriverWait(browser, 5).until(lambda b: b.find_element(By.CSS_SELECTOR, ".copied").text == "Docker command copied.")
    assert clipboard(browser) == f"docker pull {request.target_image}"
    assert request.target_image.startswith(f"{server.url.split('//')[1]}/wt/{request.token}/")


def test_a_stranger_requests_a_conda_package_found_by_search(browser, conda_server, build_worker):
    _walk(browser, conda_server, "wavetest-he", "wavetest-hello=1.0", "")


def test_the_same_walk_on_a_375_px_wide_window(browser, conda_server, build_worker):
    browser.set_window_size(375, 900)
    assert browser.execute_script("return window.innerWidth") <= 375
    _walk(browser, conda_server, "extra", "wavetest-extra=2.0", "375-")
