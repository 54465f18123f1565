"""Builds run strangers' code: what a RUN step, a FROM, an ADD or condaOpts.commands can reach.

Each test attacks the way a hostile request would, against the real worker, buildah and runc.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from django.conf import settings

from builds.models import Build
from tests.support.builds import CountingListener
from tests.support.helpers import b64, completed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Not on the tests' allow-list (which names 127.0.0.1): the sandbox must not reach it either way.
LISTENER_HOST = "127.0.0.2"


@pytest.fixture
def listener():
    listener = CountingListener(LISTENER_HOST)
    yield listener
    listener.close()


@pytest.fixture
def loopback_listener():
    listener = CountingListener("127.0.0.1")
    yield listener
    listener.close()


def built(wave_server, request: dict) -> tuple[str, dict, str]:
    """Request a build, wait for it to end: its id, final status and log."""
    build_id = wave_server.request_container(request)["buildId"]
    status = completed(wave_server, build_id)
    return build_id, status, httpx.get(f"{wave_server.url}/v1alpha1/builds/{build_id}/logs").text


def store_ports(wave_server, loopback_listener) -> dict[str, int]:
    db = settings.DATABASES["default"]
    return {
        "postgres": int(db["PORT"]),
        "redis": int(settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0]),
        "registry": int(settings.WAVE_DEFAULT_REGISTRY.rsplit(":", 1)[1]),
        "web": wave_server.port,
        "listener": loopback_listener.port,
    }


def probe_script(ports: dict[str, int]) -> str:
    """Shell lines printing what the step can see: ports, processes, the checkout, privileges, limits."""
    checks = " ".join(f"{name}:{port}" for name, port in ports.items())
    # Markers are built at run time ("reach-$n-$r"), so the echoed STEP line never matches them.
    return (
        f"for np in {checks}; do n=${{np%%:*}}; p=${{np##*:}}; r=closed; "
        "nc -w 2 127.0.0.1 $p </dev/null 2>/dev/null && r=OPEN; echo reach-$n-$r; done; "
        "echo procs-$(ls /proc | grep -cE '^[0-9]+$'); "
        f"v=hidden; if [ -e {settings.BASE_DIR} ] || [ -e {settings.WAVE_DATA_DIR} ]; then v=VISIBLE; fi; echo checkout-$v; "
        "grep NoNewPrivs /proc/self/status; echo pids-$(cat /sys/fs/cgroup/pids/pids.max)"
    )


def assert_sealed(logs: str, ports: dict[str, int]) -> None:
    for name in ports:
        assert f"reach-{name}-closed" in logs, logs
        assert f"reach-{name}-OPEN" not in logs
    procs = int(re.search(r"procs-(\d+)", logs).group(1))
    assert procs <= 5, f"the step sees {procs} processes: the host's PID namespace leaks"
    assert "checkout-hidden" in logs and "checkout-VISIBLE" not in logs
    assert "NoNewPrivs:\t1" in logs
    assert f"pids-{settings.WAVE_BUILD_PIDS}" in logs


def test_a_run_step_reaches_no_store_no_host_process_and_no_host_file(wave_server, build_worker, busybox, loopback_listener):
    ports = store_ports(wave_server, loopback_listener)
    dockerfile = f"FROM {busybox}\nRUN echo {uuid.uuid4().hex}; {probe_script(ports)}\n"
    _, status, logs = built(wave_server, {"containerFile": b64(dockerfile)})
    assert status["succeeded"] is True, logs
    assert_sealed(logs, ports)
    assert loopback_listener.connections == 0


def test_conda_commands_run_in_the_same_sandbox(wave_server, build_worker, busybox, conda_channel, loopback_listener):
    ports = store_ports(wave_server, loopback_listener)
    _, status, logs = built(wave_server, {
        "packages": {
            "type": "CONDA", "entries": ["wavetest-extra"], "channels": [conda_channel],
            "condaOpts": {"basePackages": "", "baseImage": busybox, "commands": [f"RUN echo {uuid.uuid4().hex}; {probe_script(ports)}"]},
        },
    })
    assert status["succeeded"] is True, logs
    assert_sealed(logs, ports)
    assert loopback_listener.connections == 0


def test_a_run_step_gets_egress_only_through_the_guarded_proxy(wave_server, build_worker, busybox, listener):
    # The proxy is there (RUN steps get HTTP(S)_PROXY), and refuses loopback, private and metadata addresses.
    targets = [f"http://{LISTENER_HOST}:{listener.port}/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
               f"http://localhost:{settings.WAVE_DEFAULT_REGISTRY.rsplit(':', 1)[1]}/v2/_catalog"]
    fetches = "; ".join(f"wget -q -O- {url} || echo fetch-refused" for url in targets)
    dockerfile = f"FROM {busybox}\nRUN echo {uuid.uuid4().hex}; echo proxy-$http_proxy; {fetches}\n"
    _, status, logs = built(wave_server, {"containerFile": b64(dockerfile)})
    assert "proxy-http://127.0.0.1:3128" in logs.splitlines()
    assert logs.splitlines().count("fetch-refused") == len(targets), logs
    assert "Refused by the build sandbox's egress policy: RUN step: Host '169.254.169.254'" in logs
    assert listener.connections == 0


@pytest.mark.parametrize("dockerfile", [
    "ARG R={target}\nFROM ${{R}}/ssrf-arg/x:1\n",
    "FROM \\\n  {target}/ssrf-continued/x:1\n",
    "FROM {busybox}\nCOPY --from={target}/ssrf-copy/x:1 /etc/passwd /p\n",
    "FROM {busybox}\nRUN --mount=type=bind,from={target}/ssrf-mount/x:1,target=/m true\n",
    "FROM {busybox}\nADD http://{target}/ssrf-add /f\n",
    "FROM {busybox}\nADD https://{target}/ssrf-add-tls /f\n",
], ids=["arg", "continuation", "copy-from", "mount-from", "add-http", "add-https"])


def test_the_builder_never_connects_to_a_loopback_address_a_dockerfile_names(wave_server, build_worker, busybox, listener, dockerfile):
    text = dockerfile.format(target=f"{LISTENER_HOST}:{listener.port}", busybox=busybox)
    response = httpx.post(f"{wave_server.url}/v1alpha2/container", json={"containerFile": b64(f"# {uuid.uuid4().hex}\n{text}")})
    if response.status_code == 200:  # the request-time check caught nothing: the build itself must fail
        status = completed(wave_server, response.json()["buildId"])
        assert status["succeeded"] is False
    else:
        assert response.status_code == 400 and LISTENER_HOST in response.json()["message"]
    assert listener.connections == 0


def test_conda_commands_cannot_pull_from_a_loopback_address(wave_server, build_worker, busybox, conda_channel, listener):
    _, status, _ = built(wave_server, {
        "packages": {
            "type": "CONDA", "entries": ["wavetest-extra"], "channels": [conda_channel],
            "condaOpts": {"basePackages": "", "baseImage": busybox,
                          "commands": [f"# {uuid.uuid4().hex}", f"COPY --from={LISTENER_HOST}:{listener.port}/x:1 /etc/passwd /p"]},
        },
    })
    assert status["succeeded"] is False
    assert listener.connections == 0


def test_a_fork_bomb_is_stopped_by_the_pids_limit(wave_server, build_worker, busybox):
    dockerfile = f"FROM {busybox}\nRUN echo {uuid.uuid4().hex}; i=0; while [ $i -lt {settings.WAVE_BUILD_PIDS + 50} ]; do sleep 30 & i=$((i+1)); done\n"
    build_id, status, logs = built(wave_server, {"containerFile": b64(dockerfile)})
    assert status["succeeded"] is False
    assert "can't fork" in logs or "Resource temporarily unavailable" in logs, logs
    assert Build.objects.get(pk=build_id).duration < 25  # not left to sleep out


@pytest.mark.parametrize("mount", [
    "--mount=type=cache,id=../../../../../../../../..,target=/h",  # CVE-2024-9675
    "--mount=type=bind,from={busybox},source=/,target=/h",  # a link in an image: CVE-2024-1753
    "--mount=type=bind,source=.,target=/h,bind-propagation=rshared",  # CVE-2024-9407
    "--mount=type=cache,target=/h",
], ids=["cache-id-escape", "bind-from-image", "propagation", "plain-cache"])


def test_run_mounts_are_refused_by_the_runtime(wave_server, build_worker, busybox, mount):
    # Line continuations and a comment split the flag: a textual check would not see "--mount".
    flag = mount.format(busybox=busybox)
    dockerfile = f"FROM {busybox}\nRUN {flag[:4]}\\\n# {uuid.uuid4().hex}\n{flag[4:]} cat /h{settings.WAVE_DATA_DIR}/secrets.env /h/etc/hostname\n"
    _, status, logs = built(wave_server, {"containerFile": b64(dockerfile)})
    assert status["succeeded"] is False
    assert "the build sandbox refused a RUN step: RUN --mount" in logs, logs
    assert settings.SECRET_KEY not in logs
