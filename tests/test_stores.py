"""The stores demand credentials: what a process on this machine (a build's RUN step) gets without them.

Each test attacks the stack's real Redis, Postgres and registry, on loopback.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import zlib
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis
from django.conf import settings

from builds.queue import enqueue_build

from tests.support.helpers import registry_auth


def redis_port() -> int:
    return urlsplit(settings.REDIS_URL).port


def app_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def test_redis_refuses_a_client_without_the_password():
    result = subprocess.run(["redis-cli", "-p", str(redis_port()), "PING"], capture_output=True, text=True, timeout=10)
    assert "NOAUTH" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "command",
    [("CONFIG", "GET", "dir"), ("CONFIG", "SET", "dbfilename", "x"), ("SAVE",), ("BGSAVE",), ("DEBUG", "SLEEP", "0"),
     ("MODULE", "LIST"), ("REPLICAOF", "NO", "ONE"), ("ACL", "SETUSER", "intruder", "on"), ("FLUSHALL",), ("SHUTDOWN",),
     ("MIGRATE", "127.0.0.1", "1", "k", "0", "1")],
    ids=lambda command: " ".join(command[:2]),
)
def test_redis_refuses_dangerous_commands_even_with_the_apps_password(command):
    with pytest.raises(redis.exceptions.ResponseError, match="no permissions|DEBUG command not allowed"):
        app_redis().execute_command(*command)


def test_the_apps_redis_user_has_what_rq_and_the_tests_need():
    connection = app_redis()
    assert connection.info("server")["redis_version"]
    assert connection.client_setname("wave-test") and connection.client_info()["name"] == "wave-test"


def pg(user: str) -> dict:
    db = settings.DATABASES["default"]
    return {"host": db["HOST"], "port": db["PORT"], "user": user, "dbname": db["NAME"]}


@pytest.mark.parametrize("user", [settings.DATABASES["default"]["USER"], "postgres", "wave"])
def test_postgres_refuses_a_login_without_a_password(user):
    # No password from the environment or a ~/.pgpass: only what a stranger would have.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")} | {"HOME": "/nonexistent"}
    target = pg(user)
    result = subprocess.run(
        ["psql", "-w", "-h", target["host"], "-p", str(target["port"]), "-U", user, "-d", target["dbname"], "-c", "SELECT 1"],
        capture_output=True, text=True, env=env, timeout=10,
    )
    assert result.returncode != 0
    assert "password" in result.stderr or "no pg_hba.conf entry" in result.stderr


@pytest.fixture
def app_connection(django_db_setup):
    db = settings.DATABASES["default"]
    with psycopg.connect(**pg(db["USER"]), password=db["PASSWORD"], autocommit=True) as connection:
        yield connection


def test_the_app_role_is_no_superuser(app_connection):
    row = app_connection.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user").fetchone()
    assert row == (False, False)


@pytest.mark.parametrize(
    "sql",
    ["SELECT pg_read_file('PG_VERSION')", "SELECT pg_ls_dir('.')", "COPY (SELECT 1) TO PROGRAM 'true'",
     "CREATE TABLE leak (line text); COPY leak FROM '/etc/hostname'", "ALTER ROLE current_user SUPERUSER"],
    ids=["pg_read_file", "pg_ls_dir", "copy-to-program", "copy-from-file", "alter-role"],
)
def test_the_app_role_cannot_reach_the_servers_files_or_programs(app_connection, sql):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_connection.execute(sql)


@pytest.mark.parametrize(
    "method, path",
    [("GET", "/v2/"), ("GET", "/v2/_catalog"), ("GET", "/v2/library/busybox/manifests/latest"),
     ("POST", "/v2/library/busybox/blobs/uploads/"), ("PUT", "/v2/library/busybox/manifests/latest")],
)
def test_the_registry_refuses_anonymous_pulls_and_pushes(registry, method, path):
    response = httpx.request(method, f"http://{registry}{path}", content=b"{}" if method == "PUT" else None)
    assert response.status_code == 401


def test_the_registry_lets_the_service_in(registry, busybox):
    # The `registry` fixture pushed busybox with the service's credentials; they read it back.
    response = httpx.get(
        f"http://{registry}/v2/library/busybox/manifests/latest",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}, auth=registry_auth(registry),
    )
    assert response.status_code == 200


def secret_files() -> list:
    data = settings.WAVE_DATA_DIR
    named = [data / name for name in ("secrets.env", "stack.env", "admin-password.txt", "redis.conf", "registry.htpasswd",
                                      "seaweedfs-s3.json")]
    return sorted({*data.glob("*.env"), *(path for path in named if path.exists())})


def test_every_secret_file_is_private():
    files = secret_files()
    assert {path.name for path in files} >= {"secrets.env", "stack.env", "redis.conf", "registry.htpasswd", "seaweedfs-s3.json"}
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files}
    assert modes == {name: 0o600 for name in modes}


@pytest.mark.django_db(transaction=True)  # django-rq enqueues at commit; the build is looked up for its no-worker note
def test_rq_jobs_are_json_not_pickles(settings):
    settings.WAVE_BUILD_QUEUE = "isolated"  # no worker listens there
    enqueue_build("0000000000000000_1")
    key = "rq:job:build-0000000000000000_1"
    try:
        raw = app_redis().hget(key, "data")
        payload = json.loads(zlib.decompress(raw))
        assert payload[0] == "builds.jobs.run_build" and payload[2] == ["0000000000000000_1"]
        assert app_redis().hget(key, "failure_callback_name") == b"builds.jobs.on_job_failure"
    finally:
        app_redis().delete(key)
        app_redis().delete("rq:queue:isolated-linux-amd64")
