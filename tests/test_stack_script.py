"""scripts/stack on scratch data folders with ports of their own: never the stack this suite runs on.

The cheap tests start no store; the slow one runs a whole second stack (no Debian base, no network)
and stops it again, whatever happens.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

from oci.auth import Credentials
from oci.image import new_image
from oci.layer import LayerBuilder
from oci.platform import Platform
from tests.support.helpers import free_port, push, wait_until
from wave_site.storage import parse

STACK = settings.BASE_DIR / "scripts" / "stack"
PORT_VARS = ("WAVE_PORT", "WAVE_PG_PORT", "WAVE_REDIS_PORT", "WAVE_REGISTRY_PORT", "WAVE_STORAGE_PORT", "WAVE_TLS_PORT")


def stack(data: Path, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """Run the script on `data` with a clean environment: none of this suite's ports, URLs or settings."""
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run(["bash", str(STACK), *args], env={**clean, "WAVE_DATA_DIR": str(data), **env},
                          capture_output=True, text=True, timeout=timeout)


def record(data: Path, ports: dict[str, int]) -> None:
    data.mkdir(parents=True, exist_ok=True)
    (data / "ports.env").write_text("".join(f"{k}={v}\n" for k, v in ports.items()))


@pytest.fixture
def data(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def ports() -> dict[str, int]:
    return {var: free_port() for var in PORT_VARS}


def shown(ports: dict[str, int]) -> str:
    return (f"(ports: web {ports['WAVE_PORT']}, postgres {ports['WAVE_PG_PORT']}, redis {ports['WAVE_REDIS_PORT']}, "
            f"registry {ports['WAVE_REGISTRY_PORT']}, storage {ports['WAVE_STORAGE_PORT']})")


def test_a_command_without_port_variables_uses_the_recorded_ports(data, ports):
    record(data, ports)
    result = stack(data, "status")
    assert shown(ports) in result.stdout, result.stdout + result.stderr
    assert "web: stopped" in result.stdout


def test_a_data_folder_from_before_the_record_keeps_the_ports_its_stack_env_names(data, ports):
    data.mkdir()
    (data / "stack.env").write_text(
        f"DATABASE_URL=postgres://wave_app:pw@127.0.0.1:{ports['WAVE_PG_PORT']}/wave\n"
        f"REDIS_URL=redis://wave:pw@127.0.0.1:{ports['WAVE_REDIS_PORT']}/0\n"
        f"WAVE_SERVER_URL=http://localhost:{ports['WAVE_PORT']}\n"
        f"WAVE_DEFAULT_REGISTRY=localhost:{ports['WAVE_REGISTRY_PORT']}\n"
    )
    # SeaweedFS came later: its ports follow the web port's.
    assert shown({**ports, "WAVE_STORAGE_PORT": ports["WAVE_PORT"] + 10}) in stack(data, "status").stdout


def test_a_pid_file_naming_another_program_is_not_a_running_service(data, ports):
    record(data, ports)
    (data / "run").mkdir()
    other = subprocess.Popen(["sleep", "60"])
    try:
        for name in ("web", "worker", "redis"):
            (data / "run" / f"{name}.pid").write_text(f"{other.pid}\n")
        result = stack(data, "status")
        assert "web: stopped" in result.stdout and "worker: stopped" in result.stdout and "redis: stopped" in result.stdout
    finally:
        other.kill()
        other.wait()


def start_redis(data: Path, port: int) -> subprocess.Popen:
    """A bare Redis recorded as this folder's, enough for the folder to count as running."""
    (data / "run").mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, cwd=data)
    (data / "run" / "redis.pid").write_text(f"{process.pid}\n")
    wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True).stdout.strip() == "PONG", 10, 0.1)
    return process


def test_another_port_for_a_running_stack_is_refused_and_changes_nothing(data, ports):
    record(data, ports)
    recorded = (data / "ports.env").read_text()
    redis = start_redis(data, ports["WAVE_REDIS_PORT"])
    try:
        result = stack(data, "up", timeout=30, WAVE_PG_PORT=str(free_port()))
        assert result.returncode != 0
        assert "WAVE_PG_PORT=" in result.stderr and f"(recorded {ports['WAVE_PG_PORT']})" in result.stderr
        assert "scripts/stack down" in result.stderr
        assert (data / "ports.env").read_text() == recorded and not (data / "stack.env").exists()
    finally:
        redis.kill()
        redis.wait()


def test_another_port_for_a_stopped_stack_moves_it(data, ports):
    record(data, ports)
    moved = free_port()
    result = stack(data, "status", WAVE_PORT=str(moved))
    assert f"WAVE_PORT={moved} (recorded {ports['WAVE_PORT']})" in result.stdout
    assert shown({**ports, "WAVE_PORT": moved}) in result.stdout


def test_a_number_of_web_workers_that_is_not_one_is_refused(data):
    for value in ("0", "two", "-1"):
        result = stack(data, "up", WAVE_WEB_WORKERS=value)
        assert result.returncode != 0 and f"WAVE_WEB_WORKERS must be a number of processes (1 or more), not '{value}'" in result.stderr


def test_a_registry_storage_that_is_not_known_is_refused(data):
    result = stack(data, "up", WAVE_REGISTRY_STORAGE="nfs")
    assert result.returncode != 0 and "WAVE_REGISTRY_STORAGE must be filesystem or s3, not 'nfs'" in result.stderr


def test_a_port_that_is_not_a_number_is_refused(data):
    result = stack(data, "status", WAVE_REDIS_PORT="63x")
    assert result.returncode != 0 and "WAVE_REDIS_PORT must be a port number, not '63x'" in result.stderr


def pid(data: Path, name: str) -> int:
    return int((data / "run" / f"{name}.pid").read_text())


def status(data: Path) -> str:
    return stack(data, "status", timeout=30).stdout


def gone(process: int) -> bool:
    """Exited: no process, or a zombie (whose command line is empty), as the script's `alive` sees it."""
    try:
        return not Path(f"/proc/{process}/cmdline").read_bytes()
    except FileNotFoundError:
        return True


@pytest.mark.slow
def test_a_second_stack_is_checked_restarted_and_fails_loudly():
    # Under /var/tmp, reachable by the postgres user, so the cluster lives in the folder and goes with it.
    root = Path(tempfile.mkdtemp(prefix="wave-stack-test-", dir="/var/tmp"))
    root.chmod(0o755)
    data = root / "data"
    ports = {var: free_port() for var in PORT_VARS}
    quick = {"WAVE_STACK_DEBIAN": "0", "WAVE_STACK_WATCH_EVERY": "1", "WAVE_WEB_WORKERS": "2"}
    # The machine's AWS_CA_BUNDLE (when it has one) stops the registry's AWS SDK: the script unsets it.
    ca_bundle = {k: os.environ[k] for k in ("AWS_CA_BUNDLE",) if k in os.environ}
    try:
        up = stack(data, "up", **quick, **ca_bundle, WAVE_REGISTRY_STORAGE="s3", **{k: str(v) for k, v in ports.items()})
        assert up.returncode == 0, up.stdout + up.stderr
        assert (data / "ports.env").read_text().splitlines()[1:] == [f"{k}={v}" for k, v in ports.items()]
        report = status(data)
        assert "ready (/readyz):\n  postgres: ok\n  redis: ok\n  registry: ok\n" in report, report
        for name, where in (("postgres", ports["WAVE_PG_PORT"]), ("redis", ports["WAVE_REDIS_PORT"]),
                            ("registry", ports["WAVE_REGISTRY_PORT"]), ("web", ports["WAVE_PORT"]),
                            ("seaweedfs", ports["WAVE_STORAGE_PORT"])):
            assert f"{name}: running (127.0.0.1:{where})" in report, report
        assert f"worker: running (RQ on 127.0.0.1:{ports['WAVE_REDIS_PORT']})" in report, report
        # WAVE_WEB_WORKERS web processes, each writing its metrics where /metrics sums them.
        metrics = data / "run" / "prometheus"
        wait_until(lambda: len(list(metrics.glob("gauge_livesum_*.db"))) == 2, 30, 0.5)

        # The registry keeps its images in its own bucket of the stack's store.
        secrets = dict(line.split("=", 1) for line in (data / "secrets.env").read_text().splitlines() if "=" in line)
        registry = f"127.0.0.1:{ports['WAVE_REGISTRY_PORT']}"
        image = new_image([LayerBuilder().add_file("in-the-store.txt", b"kept in S3").build()], {}, Platform("linux", "amd64"))
        digest = push(registry, "stored/image", "v1", image, Credentials("wave", secrets["WAVE_REGISTRY_PASSWORD"]))
        bucket = parse(f"s3://registry?endpoint=http://127.0.0.1:{ports['WAVE_STORAGE_PORT']}",
                       secrets["WAVE_STORAGE_ACCESS_KEY"], secrets["WAVE_STORAGE_SECRET_KEY"])
        hex_digest = digest.split(":")[1]
        assert bucket.size(f"docker/registry/v2/blobs/sha256/{hex_digest[:2]}/{hex_digest}/data") is not None
        assert (data / "registry.yml").stat().st_mode & 0o777 == 0o600  # it holds the store's keys
        assert secrets["WAVE_STORAGE_SECRET_KEY"] not in (data / "logs" / "registry.log").read_text()

        # SeaweedFS killed and started again at once, on the raft state it kept: `up` returns with it
        # ready, and the first write after it lands (it needs the master leading and a volume server).
        weed = pid(data, "seaweedfs")
        os.kill(weed, signal.SIGKILL)
        wait_until(lambda: gone(weed), 30, 0.1)
        restarted = stack(data, "up", **quick)
        assert restarted.returncode == 0 and pid(data, "seaweedfs") != weed, restarted.stdout + restarted.stderr
        store = parse(f"s3://wave?endpoint=http://127.0.0.1:{ports['WAVE_STORAGE_PORT']}",
                      secrets["WAVE_STORAGE_ACCESS_KEY"], secrets["WAVE_STORAGE_SECRET_KEY"])
        store.put_bytes("after-restart", b"written at once")
        with store.open("after-restart") as stored:
            assert stored.read() == b"written at once"
        assert bucket.size(f"docker/registry/v2/blobs/sha256/{hex_digest[:2]}/{hex_digest}/data") is not None
        switch = stack(data, "up", **quick, WAVE_REGISTRY_STORAGE="filesystem")
        assert switch.returncode != 0 and "the running registry uses s3 storage" in switch.stderr, switch.stderr

        # Without the variables, the same services (and the same registry storage).
        again = stack(data, "up", **quick)
        assert again.returncode == 0 and f"up: http://localhost:{ports['WAVE_PORT']} " in again.stdout, again.stdout + again.stderr
        env = (data / "stack.env").read_text()
        assert f"@127.0.0.1:{ports['WAVE_PG_PORT']}/wave" in env and f"WAVE_CONDA_BASE_IMAGE=localhost:{ports['WAVE_REGISTRY_PORT']}/" in env
        assert "  s3: {bucket: registry" in (data / "registry.yml").read_text()

        # A store stopped: `status` fails, and /readyz's lines name it and why.
        os.kill(pid(data, "registry"), signal.SIGTERM)
        # /readyz reuses a result for a second (wave_site/health.py): `up` asked it just now.
        wait_until(lambda: "registry: stopped" in status(data) and "  registry: down: " in status(data), 30, 0.5)
        stopped = stack(data, "status", timeout=30)
        assert stopped.returncode == 1 and "not ready (/readyz):\n  postgres: ok\n  redis: ok\n" in stopped.stdout, stopped.stdout
        assert "  registry: down: " in stopped.stdout and "Connect" in stopped.stdout, stopped.stdout
        assert stack(data, "up", **quick).returncode == 0

        # The watcher starts a killed worker again.
        killed = pid(data, "worker")
        os.kill(killed, signal.SIGKILL)
        wait_until(lambda: pid(data, "worker") != killed and "worker: running (RQ" in status(data), 60, 0.5)
        assert "worker is not running: restarting it" in (data / "logs" / "watcher.log").read_text()

        # A worker that dies at start (Redis refuses its password) fails `up`, which says why.
        os.kill(pid(data, "watcher"), signal.SIGTERM)
        wait_until(lambda: "watcher: stopped" in status(data), 30, 0.5)
        os.kill(pid(data, "worker"), signal.SIGKILL)
        broken = stack(data, "up", **quick, REDIS_URL=f"redis://wave:wrong@127.0.0.1:{ports['WAVE_REDIS_PORT']}/0")
        assert broken.returncode != 0
        assert "the worker exited at start" in broken.stderr and "worker.log" in broken.stderr, broken.stderr

        # Run again as it should be, `up` starts the dead worker on its own.
        fixed = stack(data, "up", **quick)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert "worker: running (RQ" in status(data) and "watcher: running" in status(data)
    finally:
        down = stack(data, "down", timeout=120)
        shutil.rmtree(root, ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr
    # SeaweedFS's seven ports above its S3 one are free too: `down` waits for them.
    storage = range(ports["WAVE_STORAGE_PORT"] + 1, ports["WAVE_STORAGE_PORT"] + 8)
    for port in [*ports.values(), *storage]:
        assert subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"], capture_output=True).returncode != 0
