"""Pulls waiting on a build: a server with named database sessions, and what they hold."""

from __future__ import annotations

import psycopg
import redis
from django.conf import settings

from builds.ended import channel
from builds.models import Build

from .helpers import b64, unique, wait_until

POOL = 10
APP_NAME = "wave-waiting-pulls-test"


def server_connections() -> int:
    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname=db["NAME"]) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s", (db["NAME"], APP_NAME)
        ).fetchone()[0]


def start_build(server, registry, script: str) -> dict:
    body = server.request_container({"containerFile": b64(f"FROM {registry}/library/busybox\nRUN echo {unique()} && {script}\n")})
    wait_until(lambda: Build.objects.get(pk=body["buildId"]).status == Build.Status.RUNNING, timeout=60, every=0.1)
    return body


def subscribers() -> int:
    return redis.Redis.from_url(settings.REDIS_URL).pubsub_numsub(channel())[0][1]
