"""The package search of the new-container page, over a real channel served on loopback."""

from __future__ import annotations

import pytest
from django.test import Client

from containers import package_search
from tests.support.conda_channel import QuietHandler, build_channel, serve
from tests.support.helpers import free_port

pytestmark = pytest.mark.django_db

SEARCH = "/view/containers/packages"


@pytest.fixture
def channel(settings, conda_channel):
    settings.WAVE_CONDA_CHANNELS = [conda_channel]
    return conda_channel


@pytest.fixture
def counted_channel(settings, tmp_path, monkeypatch):
    """A channel of its own whose server counts the requests it answers."""
    seen = []
    monkeypatch.setattr(QuietHandler, "log_message", lambda handler, *args: seen.append(handler.path))
    url, server = serve(build_channel(tmp_path / "channel"))
    settings.WAVE_CONDA_CHANNELS = [url]
    yield seen
    server.shutdown()


def search(q: str, platform: str = "linux-64", **extra):
    return Client().get(SEARCH, {"q": q, "platform": platform}, **extra)


def test_it_answers_names_latest_versions_and_platforms(channel):
    answer = search("wavetest").json()
    assert answer["channels"] == [channel] and answer["truncated"] is False
    assert [(p["name"], p["version"], p["platforms"]) for p in answer["packages"]] == [
        ("wavetest-lib", "1.0", ["noarch"]),
        ("wavetest-arch", "1.0", ["linux-64"]),
        ("wavetest-extra", "2.0", ["noarch"]),
        ("wavetest-hello", "1.0", ["noarch"]),
    ]
    arm = search("arch", "linux-aarch64").json()["packages"]
    assert [(p["name"], p["platforms"]) for p in arm] == [("wavetest-arch", ["linux-aarch64"])]


def test_the_exact_name_comes_first(channel):
    assert search("wavetest-extra").json()["packages"][0]["name"] == "wavetest-extra"
    assert search("nothing-like-it").json()["packages"] == []


def test_the_answer_is_bounded(channel, monkeypatch):
    monkeypatch.setattr(package_search, "MAX_RESULTS", 2)
    answer = search("wavetest").json()
    assert len(answer["packages"]) == 2 and answer["truncated"] is True


def test_a_repeated_search_is_answered_from_the_cache(counted_channel):
    first = search("wavetest-hello").json()
    asked = len(counted_channel)
    assert asked > 0
    assert search("wavetest-hello").json() == first
    assert len(counted_channel) == asked  # the channel was not read again
    search("wavetest-lib")
    assert len(counted_channel) > asked  # another query reads (revalidates) the channel


def test_an_unreachable_channel_is_a_502_naming_it(settings):
    settings.WAVE_CONDA_CHANNELS = [f"http://127.0.0.1:{free_port()}/gone"]
    response = search("samtools")
    assert response.status_code == 502
    message = response.json()["message"]
    assert message.startswith(f"The conda channels {settings.WAVE_CONDA_CHANNELS[0]} cannot be read: ") and "127.0.0.1" in message


@pytest.mark.parametrize("q, platform, message", [
    ("", "linux-64", "Parameter 'q' must be part of a conda package name"),
    ("sam tools", "linux-64", "not 'sam tools'"),
    ("x" * 101, "linux-64", "at most 100 characters"),
    ("samtools", "win-64", "Parameter 'platform' takes linux-64 or linux-aarch64, not 'win-64'"),
])
def test_a_bad_query_is_a_400_naming_it(channel, q, platform, message):
    response = search(q, platform)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_searches_are_rate_limited_per_address(channel, settings):
    settings.WAVE_RATE_LIMIT_SEARCHES_ANONYMOUS = "2/3600"
    assert [search("wavetest", REMOTE_ADDR="198.51.100.20").status_code for _ in range(2)] == [200, 200]
    refused = search("wavetest", REMOTE_ADDR="198.51.100.20")
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 3600
    assert refused.json()["message"].startswith("Rate limit exceeded: 2 searches an hour for client 198.51.100.20")
    assert search("wavetest", REMOTE_ADDR="198.51.100.21").status_code == 200


def test_a_signed_in_user_searches_on_their_own_budget(channel, settings, owner):
    settings.WAVE_RATE_LIMIT_SEARCHES_USER = "1/3600"
    client = Client()
    client.force_login(owner)
    assert client.get(SEARCH, {"q": "wavetest"}).status_code == 200
    refused = client.get(SEARCH, {"q": "wavetest"})
    assert refused.status_code == 429 and "1 searches an hour for this user" in refused.json()["message"]
    assert search("wavetest").status_code == 200  # the anonymous budget of the same address is another
