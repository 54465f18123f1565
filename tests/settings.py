"""The local stack's settings with test isolation: Redis database 15, a fixed credentials key."""

from wave_site.settings import *  # noqa: F401,F403
import os

from builds.platforms import PLATFORMS as BUILD_PLATFORMS
from builds.platforms import queue_name
from wave_site.settings import REDIS_URL, RQ_QUEUES, WAVE_DEFAULT_REGISTRY

REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/15"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
RQ_QUEUES = {name: {**queue, "URL": REDIS_URL} for name, queue in RQ_QUEUES.items()}
WAVE_CREDENTIALS_KEYS = ["VGhpc0lzQVRlc3RLZXlGb3JXYXZlVGVzdHNPbmx5ISE="]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The stack registry (localhost:<its port>), and test registries on 127.0.0.1 with random ports;
# SSRF tests use other names and override this.
WAVE_SSRF_ALLOWLIST = sorted({WAVE_DEFAULT_REGISTRY, "127.0.0.1"})  # noqa: F405
# A queue no shared worker listens to, for tests that need a worker of their own.
RQ_QUEUES["isolated"] = {**RQ_QUEUES["default"]}
# A queue no worker ever listens to: builds that wait for one.
RQ_QUEUES["idle"] = {**RQ_QUEUES["default"]}
for _prefix in ("isolated", "idle"):  # and the build queues of each platform under them
    RQ_QUEUES.update({queue_name(_prefix, p): {**RQ_QUEUES["default"]} for p in BUILD_PLATFORMS})
# Generous limits for the suite (everything comes from 127.0.0.1); the rate-limit tests set their own,
# in-process with `settings`, or through the environment of a server they start.
for _limit in ("BUILDS_USER", "BUILDS_ANONYMOUS", "PULLS_USER", "PULLS_ANONYMOUS", "TOKEN_MISSES", "LOGIN_FAILURES",
               "ACCESS_TOKEN_FAILURES"):
    globals()[f"WAVE_RATE_LIMIT_{_limit}"] = os.environ.get(f"WAVE_RATE_LIMIT_{_limit}", "100000/3600")
# Builds stay unarchived unless a test asks (builds/archive.py): many tests read a finished build's
# log and lock straight from its row. The archive tests set 0, in-process or in a worker's environment.
WAVE_BUILD_ARCHIVE_AFTER = int(os.environ.get("WAVE_BUILD_ARCHIVE_AFTER", 30 * 24 * 3600))
