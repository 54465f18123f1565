"""The build page in real headless Chromium: a running build's page reaches its final state without a
reload, its copy button puts the pull command on the clipboard, and a failed build's page opens
scrolled to its error, at a phone's 375 px too. Screenshots: docs/build-page-*.png."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from builds.logs import timed_append
from builds.models import Build
from tests.support.browser import DOCS, clipboard, grant_clipboard, log_in
from tests.support.factories import UserFactory, api_token
from tests.support.helpers import REGISTRY, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

def test_a_running_builds_page_reaches_its_final_state_and_copies_the_pull_command(browser, wave_server, build_worker, registry):
    user = UserFactory(email="alice@seqera.io")
    marker = uuid.uuid4().hex[:8]
    dockerfile = f"FROM {registry}/library/busybox\nRUN echo start-{marker} && sleep 8 && echo end-{marker}\n"
    body = wave_server.request_container({"containerFile": base64.b64encode(dockerfile.encode()).decode(), "towerAccessToken": api_token(user)})
    build_id = body["buildId"]
    wait_until(lambda: f"start-{marker}" in Build.objects.get(pk=build_id).log, timeout=60, every=0.2)
    log_in(browser, wave_server, user)
    browser.get(f"{wave_server.url}/view/builds/{build_id}")
    assert browser.find_element(By.ID, "status").text == "RUNNING" and browser.find_element(By.ID, "digest").text == "–"
    browser.execute_script("window.__sameDocument = true")  # gone if the page were reloaded
    WebDriverWait(browser, 60, poll_frequency=0.3).until(lambda b: b.find_element(By.ID, "status").text == "SUCCEEDED")
    build = Build.objects.get(pk=build_id)
    assert build.digest.startswith("sha256:")
    WebDriverWait(browser, 5).until(lambda b: b.find_element(By.ID, "digest").text == build.digest)
    assert browser.find_element(By.ID, "duration").text == f"{build.duration:.2f} s"
    assert browser.find_element(By.ID, "finished").text == build.finished_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    layers = browser.find_elements(By.CSS_SELECTOR, "#layers tbody tr")
    assert len(layers) >= 2  # busybox's and the RUN's, filled in from the follower
    assert browser.find_element(By.ID, "size").text.endswith(f" compressed, in {len(layers)} layers")
    assert browser.execute_script("return window.__sameDocument") is True
    assert browser.find_element(By.ID, "status").get_attribute("aria-live") == "polite"
    steps = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#steps li")]
    assert steps[0].startswith("1/2: FROM ") and steps[1].startswith("2/2: RUN echo start-")
    took = float(steps[1].rsplit(" ", 2)[1])  # "... && echo end-x 8.4 s": the worker timed the step
    assert steps[1].endswith(" s") and took >= 8  # its RUN sleeps 8 s

    # Each line's time, behind a box: the first line was on the page, the last came through the follower.
    def shown_time(text: str) -> int:
        line = next(el for el in browser.find_elements(By.CSS_SELECTOR, "#log > span") if el.text.startswith(text))
        clock = browser.execute_script("return getComputedStyle(arguments[0], '::before').content", line)
        hours, minutes, seconds = map(int, clock.strip('"').split(":"))
        return hours * 3600 + minutes * 60 + seconds

    assert browser.execute_script("return getComputedStyle(document.querySelector('#log > span'), '::before').content") == "none"
    browser.find_element(By.CSS_SELECTOR, "label[for=log-times]").click()
    assert (shown_time(f"end-{marker}") - shown_time(f"start-{marker}")) % 86400 >= 8
    browser.execute_script("document.querySelector('label[for=log-times]').scrollIntoView()")
    browser.save_screenshot(str(DOCS / "build-page-times.png"))

    grant_clipboard(browser, wave_server.url)
    podman = browser.find_element(By.CSS_SELECTOR, 'pre[data-tool="Podman"]')
    browser.find_element(By.CSS_SELECTOR, f'button[data-copy="{podman.get_attribute("id")}"]').click()
    WebDriverWait(browser, 5).until(lambda b: b.find_element(By.CSS_SELECTOR, ".copied").text == "Podman command copied.")
    # The name the request returned (its token), not the build's internal one: what this user pulls.
    assert clipboard(browser) == f"podman pull {body['targetImage']}"
    browser.save_screenshot(str(DOCS / "build-page-succeeded.png"))

    browser.get(f"{wave_server.url}/view/containers/{body['containerToken']}")
    nextflow = browser.find_element(By.CSS_SELECTOR, 'pre[data-tool="Nextflow"]')
    browser.find_element(By.CSS_SELECTOR, f'button[data-copy="{nextflow.get_attribute("id")}"]').click()
    WebDriverWait(browser, 5).until(lambda b: "copied" in b.find_element(By.CSS_SELECTOR, ".copied").text)
    assert clipboard(browser) == f"process.container = '{body['targetImage']}'\ndocker.enabled = true"
    browser.save_screenshot(str(DOCS / "build-page-request.png"))


@pytest.mark.parametrize("width", [1280, 375])
def test_a_failed_builds_page_opens_scrolled_to_its_error(browser, wave_server, width):
    user = UserFactory(email="bob@seqera.io")
    noise = "".join(f"compiling part {n} of a long build\n" for n in range(400))
    log = f"STEP 1/2: FROM busybox\nSTEP 2/2: RUN make\n{noise}error: make: *** [all] Error 2\n{noise}Error: building at STEP \"RUN make\": exit status 2\n"
    now = timezone.now()
    build = Build.objects.create(
        id="c" * 16 + "_1", content_hash="c" * 16, number=1, status=Build.Status.FAILED, container_file="FROM busybox\nRUN make\n",
        platform="linux/amd64", build_repository=f"{REGISTRY}/b", target_image=f"{REGISTRY}/b:{'c' * 16}", org=user.org,
        user=user, log=log, reason='Error: building at STEP "RUN make": exit status 2', started_at=now - timedelta(seconds=9), finished_at=now,
    )
    log_in(browser, wave_server, user)
    if width < 1280:  # a phone's layout viewport (the desktop flags open a 1280 px window)
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": 740, "deviceScaleFactor": 1, "mobile": False})
    browser.get(f"{wave_server.url}/view/builds/{build.id}")
    mark = browser.find_element(By.ID, "error-line")
    assert mark.text == "error: make: *** [all] Error 2"

    def in_view(b) -> bool:
        return b.execute_script("""
            const r = arguments[0].getBoundingClientRect(), log = document.getElementById('log').getBoundingClientRect();
            return r.top >= Math.max(0, log.top) && r.bottom <= Math.min(window.innerHeight, log.bottom);""", mark)
    WebDriverWait(browser, 5).until(in_view)
    assert browser.execute_script("return window.scrollY") > 0  # it was below the fold, past the pull commands
    pull = browser.find_element(By.CSS_SELECTOR, "section.pull").rect
    assert pull["x"] + pull["width"] <= width
    assert re.fullmatch(r"9\.\d\d s", browser.find_element(By.ID, "duration").text)
    browser.save_screenshot(str(DOCS / f"build-page-failed-{width}.png"))


def test_a_followed_build_that_fails_gets_its_lines_times_and_its_error_line_marked_live(browser, wave_server):
    user = UserFactory(email="carol@seqera.io")
    now = timezone.now()
    build = Build.objects.create(
        id="d" * 16 + "_1", content_hash="d" * 16, number=1, status=Build.Status.RUNNING, container_file="FROM busybox\nRUN make\n",
        platform="linux/amd64", build_repository=f"{REGISTRY}/b", target_image=f"{REGISTRY}/b:{'d' * 16}", org=user.org,
        user=user, log="STEP 1/2: FROM busybox\nmake: half a li", log_times=[[0, now.timestamp()]], started_at=now, heartbeat_at=now,
    )
    log_in(browser, wave_server, user)
    browser.get(f"{wave_server.url}/view/builds/{build.id}")
    # The follower's next answer ends the open line and brings the error line, read 5 s later; the
    # marks count characters, and an emoji is two in JavaScript's strings.
    follows = "ne\n" + "\U0001F600" * 10 + "\nb\nerror: make: *** [all] Error 2\n"
    Build.objects.filter(pk=build.id).update(**timed_append(follows, [(16, now.timestamp() + 5)]))
    Build.objects.filter(pk=build.id).update(status=Build.Status.FAILED, finished_at=now + timedelta(seconds=6), reason="error: make: *** [all] Error 2")
    mark = WebDriverWait(browser, 15).until(lambda b: b.find_elements(By.ID, "error-line"))[0]
    assert mark.tag_name == "mark" and mark.get_attribute("data-t") == (now + timedelta(seconds=5)).strftime("%H:%M:%S")
    lines = browser.find_elements(By.CSS_SELECTOR, "#log > *")
    assert [line.text for line in lines] == [
        "STEP 1/2: FROM busybox", "make: half a line", "\U0001F600" * 10, "b", "error: make: *** [all] Error 2",
    ]
    assert {line.get_attribute("data-t") for line in lines[:4]} == {now.strftime("%H:%M:%S")}
