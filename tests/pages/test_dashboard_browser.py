"""The usage dashboard in real headless Chromium: the vendored Chart.js draws dated axes and shows a
day's value on hover. Screenshots docs/usage-*.png (replaced with WAVE_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import DOCS, log_in
from tests.support.factories import BuildFactory, PullEventFactory, UserFactory
from tests.support.helpers import REGISTRY

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Pulls per day, oldest first, over the last 30 days: yesterday 2, today 5.
PULLS = [(i * 7) % 4 for i in range(28)] + [2, 5]


@pytest.fixture
def manager():
    user = UserFactory(email="boss@seqera.io", is_org_manager=True)
    now = timezone.now()
    for days_ago, n in enumerate(reversed(PULLS)):
        image = f"{REGISTRY}/library/busybox:latest" if days_ago % 3 else f"{REGISTRY}/tools/samtools:1.19"
        PullEventFactory.create_batch(n, user=user, image=image, fusion=days_ago % 5 == 0, created_at=now - timedelta(days=days_ago))
    for days_ago in (1, 4, 4, 9):
        BuildFactory(org="seqera.io", created_at=now - timedelta(days=days_ago))
    return user


def chart(browser, kind: str):
    return browser.find_element(By.CSS_SELECTOR, f'canvas[data-kind="{kind}"]')


def hover_bar(browser, canvas, index: int) -> None:
    """Move the mouse to the middle of bar `index`, where Chart.js placed it."""
    x, top, base = browser.execute_script(
        "const bar = Chart.getChart(arguments[0]).getDatasetMeta(0).data[arguments[1]]; return [bar.x, bar.y, bar.base]", canvas, index
    )
    size = canvas.size  # offsets are from the element's centre
    ActionChains(browser).move_to_element_with_offset(canvas, int(x - size["width"] / 2), int((top + base) / 2 - size["height"] / 2)).perform()


def tooltip(browser, canvas) -> dict:
    return browser.execute_script(
        "const t = Chart.getChart(arguments[0]).tooltip;"
        "return {title: t.title, lines: t.body.flatMap(b => b.lines), active: t.getActiveElements().length}", canvas
    )


def test_the_dashboard_has_dated_axes_and_shows_a_days_value_on_hover(browser, wave_server, manager):
    log_in(browser, wave_server, manager)
    browser.get(f"{wave_server.url}/view/usage/seqera.io?days=7")
    pulls = chart(browser, "pulls")
    today = timezone.localdate()
    week = [today - timedelta(days=6 - i) for i in range(7)]
    labels = browser.execute_script("return Chart.getChart(arguments[0]).scales.x.ticks.map(t => t.label)", pulls)
    assert labels == [f"{day.day} {day:%b}" for day in week]
    y_labels = browser.execute_script("return Chart.getChart(arguments[0]).scales.y.ticks.map(t => t.label)", pulls)
    assert y_labels[0] == "0" and int(y_labels[-1]) >= 5

    hover_bar(browser, pulls, 6)
    WebDriverWait(browser, 10).until(lambda b: tooltip(b, pulls)["active"])
    assert tooltip(browser, pulls) == {"title": [f"{today:%a} {today.day} {today:%b %Y}"], "lines": ["Pulls: 5"], "active": 1}
    hover_bar(browser, pulls, 5)
    yesterday = week[5]
    WebDriverWait(browser, 10).until(lambda b: tooltip(b, pulls)["title"] == [f"{yesterday:%a} {yesterday.day} {yesterday:%b %Y}"])
    assert tooltip(browser, pulls)["lines"] == [f"Pulls: {PULLS[-2]}"]

    browser.get(f"{wave_server.url}/view/usage/seqera.io?days=30")
    builds = chart(browser, "builds")
    hover_bar(browser, builds, 29 - 4)
    WebDriverWait(browser, 10).until(lambda b: tooltip(b, builds)["active"])
    assert tooltip(browser, builds)["lines"] == ["Builds: 2"]
    browser.save_screenshot(str(DOCS / "usage-org.png"))
    browser.set_window_size(375, 800)  # a phone's width: the charts shrink to it
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return Chart.getChart(arguments[0]).width", builds) < 375)
    assert browser.execute_script("return arguments[0].getBoundingClientRect().right <= window.innerWidth", builds)
    browser.save_screenshot(str(DOCS / "usage-375.png"))


def test_an_empty_window_shows_a_sentence_not_blank_charts(browser, wave_server):
    lonely = UserFactory(email="boss@empty.example", is_org_manager=True)
    log_in(browser, wave_server, lonely)
    browser.get(f"{wave_server.url}/view/usage/")
    assert browser.current_url.endswith("/view/usage/empty.example")
    assert browser.find_element(By.ID, "usage-empty").text == "No pulls or builds in this window."
    assert browser.find_elements(By.TAG_NAME, "canvas") == []
    assert browser.execute_script("return typeof Chart") == "undefined"  # no chart library loaded for nothing


def test_operators_pick_the_window_and_see_anonymous_usage(browser, wave_server, manager):
    PullEventFactory.create_batch(3, org="", created_at=timezone.now() - timedelta(days=2))
    operator = UserFactory(is_staff=True)
    log_in(browser, wave_server, operator)
    browser.get(f"{wave_server.url}/view/usage/")
    browser.find_element(By.CSS_SELECTOR, '#id_days option[value="7"]').click()
    browser.find_element(By.CSS_SELECTOR, ".usage-window button").click()
    WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/view/usage/?days=7"))
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#orgs tbody tr")]
    assert rows == [f"seqera.io 3 {sum(PULLS[-7:])} {sum(n for d, n in enumerate(reversed(PULLS[-7:])) if d % 5 == 0)}", "(anonymous) 0 3 0"]
    browser.save_screenshot(str(DOCS / "usage-index.png"))
    browser.find_element(By.LINK_TEXT, "(anonymous)").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, 'canvas[data-kind="pulls"]'))
    assert browser.find_element(By.CSS_SELECTOR, '.total[data-kind="pulls"]').text == "3"


def test_an_org_manager_reads_their_orgs_metrics_api_in_the_browser(browser, wave_server, manager):
    """The metrics API with the manager's own password (Basic auth, as a browser sends it): their org's
    numbers, and a 403 naming the one org they may read for another."""
    signed = wave_server.url.replace("://", f"://{manager.username}:password@")
    browser.get(f"{signed}/v1alpha2/metrics/pulls?org=seqera.io")
    answer = json.loads(browser.find_element(By.TAG_NAME, "body").text)
    assert answer == {"metric": "pulls", "count": 49, "orgs": {"seqera.io": 49}}  # sum(PULLS): every pull is theirs
    browser.save_screenshot(str(DOCS / "usage-api-manager.png"))
    browser.get(f"{signed}/v1alpha2/metrics/pulls?org=gmail.com")
    refused = json.loads(browser.find_element(By.TAG_NAME, "body").text)
    assert refused == {"message": f"User '{manager.username}' may not read the usage metrics of gmail.com: only of seqera.io (add ?org=seqera.io)"}
