"""A conda solve that fails says which of two things happened: a channel could not be reached (named,
with the network error or HTTP status), or the packages cannot be solved (with the solver's reason)."""

from __future__ import annotations

import asyncio
import http.server
import threading

import pytest
from django.conf import settings

from builds.conda.plan import CondaPlan
from builds.conda.solve import SolveError, solve
from builds.models import Build
from tests.support.builds import conda_request
from tests.support.helpers import completed, free_port


class _Status(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def answering():
    """A loopback HTTP server answering every request with the given status."""
    servers = []

    def start(status: int) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Status)
        server.status = status
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/channel"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def failure(channel: str, *specs: str) -> str:
    plan = CondaPlan((channel,), specs, "busybox", "linux/amd64")
    with pytest.raises(SolveError) as caught:
        asyncio.run(solve(plan, settings.WAVE_CONDA_CHANNEL_ALIAS))
    return str(caught.value)


def test_an_unknown_package_cannot_be_solved_and_is_named(conda_channel):
    message = failure(conda_channel, "wavetest-no-such-package")
    assert message.startswith("The conda environment cannot be solved: ")
    assert "wavetest-no-such-package" in message
    assert "unreachable" not in message


def test_a_channel_on_a_closed_port_is_unreachable_by_its_url():
    channel = f"http://127.0.0.1:{free_port()}/channel"
    message = failure(channel, "wavetest-hello")
    assert message.startswith(f"The conda channel {channel}/ is unreachable (connection refused fetching {channel}/")
    assert "cannot be solved" not in message


@pytest.mark.parametrize("status, said", [(404, "HTTP 404 Not Found"), (500, "HTTP 500 Internal Server Error")])
def test_a_channel_answering_an_error_status_is_unreachable_with_that_status(answering, status, said):
    channel = answering(status)
    message = failure(channel, "wavetest-hello")
    assert message.startswith(f"The conda channel {channel}/ is unreachable ({said} fetching {channel}/")


def test_the_unreachable_channel_is_named_among_reachable_ones(conda_channel):
    closed = f"http://127.0.0.1:{free_port()}/channel"
    plan = CondaPlan((conda_channel, closed), ("wavetest-hello",), "busybox", "linux/amd64")
    with pytest.raises(SolveError, match=f"^The conda channel {closed}/ is unreachable"):
        asyncio.run(solve(plan, settings.WAVE_CONDA_CHANNEL_ALIAS))


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_build_from_an_unreachable_channel_fails_saying_so(wave_server, build_worker, busybox):
    channel = f"http://127.0.0.1:{free_port()}/channel"
    body = wave_server.request_container(conda_request(channel, busybox, ["wavetest-hello"]))
    status = completed(wave_server, body["buildId"])
    assert status["succeeded"] is False
    build = Build.objects.get(pk=body["buildId"])
    assert build.reason.startswith(f"The conda channel {channel}/ is unreachable (connection refused")
    assert build.reason in build.log
