"""Every setting comes from the environment, with a default that works for the local stack.

`scripts/stack up` writes data/stack.env (ports, URLs and generated secrets); it is read here when
present, and variables already set in the environment win over it.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import environ

from builds.platforms import PLATFORMS as BUILD_PLATFORMS
from builds.platforms import native_platforms, queue_name, worker_platforms
from oci.auth import Credentials
from wave_site.security_headers import https_settings

BASE_DIR = Path(__file__).resolve().parent.parent

# Any variable NAME may instead be given as NAME_FILE, the path of a file holding it (secrets
# mounted by Docker or Kubernetes); the file wins over NAME.
env = environ.FileAwareEnv()
_stack_env = Path(env.str("WAVE_ENV_FILE", default=str(BASE_DIR / "data" / "stack.env")))
if _stack_env.is_file():
    env.read_env(str(_stack_env), overwrite=False)


def _secret(name: str, default: str) -> str:
    """A secret from NAME or NAME_FILE, without the line break that ends a file."""
    return env.str(name, default=default).strip()


def _registry_credentials(raw: str) -> dict[str, Credentials]:
    """`host=user:password` entries separated by commas or newlines (a password holds no comma)."""
    found = {}
    for entry in filter(None, (part.strip() for part in raw.replace("\n", ",").split(","))):
        host, equals, pair = entry.partition("=")
        username, colon, password = pair.partition(":")
        if not (equals and colon and host and username):
            # The entry is not quoted: it may hold a password.
            raise environ.ImproperlyConfigured("WAVE_REGISTRY_CREDENTIALS entries must look like host=user:password")
        found[host] = Credentials(username, password)
    return found


def _bool(name: str, default: bool) -> bool:
    raw = env.str(name, default="true" if default else "false").strip().lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise environ.ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")
    return raw in ("true", "1", "yes")


def _size(name: str, default: str) -> int:
    """Bytes from `4g`, `512m`, `64k` or a plain number."""
    raw = env.str(name, default=default).strip().lower()
    match = re.fullmatch(r"(\d+)([kmg]?)", raw)
    if not match:
        raise environ.ImproperlyConfigured(f"{name} must be a size like 4g, 512m or a number of bytes, not {raw!r}")
    return int(match[1]) << {"": 0, "k": 10, "m": 20, "g": 30}[match[2]]


DEBUG = _bool("DEBUG", False)
SECRET_KEY = _secret("SECRET_KEY", default="insecure-local-only-key-set-SECRET_KEY-in-production")

# --- the service ---------------------------------------------------------------------------
WAVE_SERVER_URL = env.str("WAVE_SERVER_URL", default="http://localhost:9090").rstrip("/")
WAVE_SERVER_AUTHORITY = urlsplit(WAVE_SERVER_URL).netloc
WAVE_DATA_DIR = Path(env.str("WAVE_DATA_DIR", default=str(BASE_DIR / "data")))
# The object store of the service's own bytes (README, Object storage): s3://BUCKET?endpoint=…&region=…
# with its keys, or file:///abs/path; by default a folder in the data directory.
WAVE_STORAGE_URL = env.str("WAVE_STORAGE_URL", default=f"file://{WAVE_DATA_DIR.resolve() / 'storage'}")
WAVE_STORAGE_ACCESS_KEY = _secret("WAVE_STORAGE_ACCESS_KEY", default="")
WAVE_STORAGE_SECRET_KEY = _secret("WAVE_STORAGE_SECRET_KEY", default="")
# The local registry; the settings below that name a repository on it default to this host.
WAVE_DEFAULT_REGISTRY = env.str("WAVE_DEFAULT_REGISTRY", default="localhost:5000")
WAVE_BUILD_REPOSITORY = env.str("WAVE_BUILD_REPOSITORY", default=f"{WAVE_DEFAULT_REGISTRY}/wave/builds")
WAVE_CACHE_REPOSITORY = env.str("WAVE_CACHE_REPOSITORY", default=f"{WAVE_DEFAULT_REGISTRY}/wave/cache")
# SSRF guard: hosts named by requests that may be contacted even though they resolve to
# loopback/private addresses (`host` or `host:port`); the stack's own registry by default.
WAVE_SSRF_ALLOWLIST = env.list(
    "WAVE_SSRF_ALLOWLIST",
    default=sorted({WAVE_DEFAULT_REGISTRY, WAVE_BUILD_REPOSITORY.split("/")[0], WAVE_CACHE_REPOSITORY.split("/")[0]}),
)
# The service's own credentials for registries it runs (`host=user:password`, comma-separated), used
# when a caller has none stored for that host: its pulls, build and cache pushes, seeding.
WAVE_REGISTRY_CREDENTIALS = _registry_credentials(_secret("WAVE_REGISTRY_CREDENTIALS", default=""))
# Registries spoken to over plain HTTP besides loopback ones (host[:port]).
WAVE_INSECURE_REGISTRIES = env.list("WAVE_INSECURE_REGISTRIES", default=[])
WAVE_TOKEN_LIFETIME = env.int("WAVE_TOKEN_LIFETIME", default=36 * 3600)  # seconds
# The most manifests and blobs one token's image may name (see containers/grant.py).
WAVE_TOKEN_MAX_REACHABLE = env.int("WAVE_TOKEN_MAX_REACHABLE", default=10_000)
# Seconds a cached token record is trusted before its request, user and API token are read again.
WAVE_TOKEN_RECHECK = env.int("WAVE_TOKEN_RECHECK", default=60)
WAVE_BUILD_TIMEOUT = env.int("WAVE_BUILD_TIMEOUT", default=15 * 60)  # seconds, recorded on each build
# A running build whose worker has not beaten its heart for this long is marked failed.
WAVE_BUILD_HEARTBEAT_TIMEOUT = env.int("WAVE_BUILD_HEARTBEAT_TIMEOUT", default=60)  # seconds
WAVE_BUILDER = env.str("WAVE_BUILDER", default="buildah")
# The build sandbox (README, Security): RUN steps reach public addresses through the egress proxy
# ("egress") or nothing ("none"); each RUN step's memory, CPUs and processes.
WAVE_BUILD_NETWORK = env.str("WAVE_BUILD_NETWORK", default="egress")
if WAVE_BUILD_NETWORK not in ("egress", "none"):
    raise environ.ImproperlyConfigured(f"WAVE_BUILD_NETWORK must be egress or none, not {WAVE_BUILD_NETWORK!r}")

# Memory of each RUN step (its cgroup) and of the conda child (its address space), as `_size` reads it.
WAVE_BUILD_MEMORY = _size("WAVE_BUILD_MEMORY", "4g")
WAVE_BUILD_CPUS = env.float("WAVE_BUILD_CPUS", default=2.0)
WAVE_BUILD_PIDS = env.int("WAVE_BUILD_PIDS", default=2048)
# The ports RUN steps may reach through the egress proxy (HTTP and HTTPS: apt, pip, conda, git).
WAVE_BUILD_EGRESS_PORTS = [int(p) for p in env.list("WAVE_BUILD_EGRESS_PORTS", default=["80", "443"])]
WAVE_BUILD_LOG_FLUSH = env.float("WAVE_BUILD_LOG_FLUSH", default=0.5)  # seconds between log writes of a build
# A build's log keeps its first and last halves of this many bytes, with a line saying what was dropped.
WAVE_BUILD_LOG_LIMIT = env.int("WAVE_BUILD_LOG_LIMIT", default=4 * 1024 * 1024)
# The builder's local storage (layer cache, base images) is pruned, oldest first, to this many bytes.
WAVE_BUILD_CACHE_SIZE = env.int("WAVE_BUILD_CACHE_SIZE", default=10 * 1024**3)
# Whether RUN steps for a foreign platform can execute: auto (native, or a registered qemu-user), true, false.
WAVE_FOREIGN_RUN = env.str("WAVE_FOREIGN_RUN", default="auto")
WAVE_BUILD_QUEUE = env.str("WAVE_BUILD_QUEUE", default="default")  # mirrors' queue; builds go to its platform queues
# The platforms the workers started with these settings build, each from its own queue (builds/platforms.py).
try:
    WAVE_WORKER_PLATFORMS = worker_platforms(env.list("WAVE_WORKER_PLATFORMS", default=native_platforms()))
except ValueError as exc:
    raise environ.ImproperlyConfigured(str(exc)) from None
# Upkeep run by `manage.py housekeep` (the stack starts one): each task every WAVE_HOUSEKEEPING_EVERY seconds.
WAVE_HOUSEKEEPING_EVERY = env.float("WAVE_HOUSEKEEPING_EVERY", default=15.0)
WAVE_HOUSEKEEPING_TASKS = [
    "builds.reconcile.reap_stale_builds",
    "builds.requeue.requeue_lost_builds",
    "metrics.counters.advance",
    "mirrors.jobs.reap_stale_mirrors",
    "containers.lifecycle.collect_blobs",
    "metrics.retention.collect_pull_events",
    "builds.workdirs.collect_work_folders",
    "builds.archive.archive_ended_builds",
]
# What the housekeeper collects (README, Retention): stored blobs nothing names, kept this many seconds
# after their last use; pull events older than this many days (0: kept for ever); rows per task per round.
WAVE_STORED_BLOB_GRACE = env.int("WAVE_STORED_BLOB_GRACE", default=86400)
WAVE_PULL_EVENT_RETENTION_DAYS = env.int("WAVE_PULL_EVENT_RETENTION_DAYS", default=0)
WAVE_COLLECT_BATCH = env.int("WAVE_COLLECT_BATCH", default=500)
# Seconds after its end that a build's log and lock move to the object store: 0, by a job queued at
# its end; more, by the housekeeper's sweep (README, Object storage).
WAVE_BUILD_ARCHIVE_AFTER = env.int("WAVE_BUILD_ARCHIVE_AFTER", default=0)
# Seconds an ended build's work folder a janitor left may stay (see builds/workdirs.py).
WAVE_WORK_FOLDER_GRACE = env.int("WAVE_WORK_FOLDER_GRACE", default=3600)
# Seconds a mirror (`mirror: true`) may take; past it (and a minute) the housekeeper fails it.
WAVE_MIRROR_TIMEOUT = env.int("WAVE_MIRROR_TIMEOUT", default=900)
# The blob cache (README, Blob cache): upstream blobs of at least MIN_SIZE bytes are copied once into
# the object store and later pulls redirected (307) to a presigned URL valid URL_TTL seconds, made
# per request; a cache record is checked against the store again after RECHECK seconds.
WAVE_BLOB_CACHE = _bool("WAVE_BLOB_CACHE", True)
WAVE_BLOB_CACHE_MIN_SIZE = _size("WAVE_BLOB_CACHE_MIN_SIZE", "4m")
WAVE_BLOB_CACHE_URL_TTL = env.int("WAVE_BLOB_CACHE_URL_TTL", default=300)
WAVE_BLOB_CACHE_RECHECK = env.int("WAVE_BLOB_CACHE_RECHECK", default=300)
WAVE_BLOB_CACHE_TIMEOUT = env.int("WAVE_BLOB_CACHE_TIMEOUT", default=3600)  # seconds a copy job may take
WAVE_BLOB_CACHE_QUEUE = env.str("WAVE_BLOB_CACHE_QUEUE", default="default")
# A build PENDING this long with no RQ job waiting or taken is queued again, at most this many times.
WAVE_BUILD_PENDING_TIMEOUT = env.int("WAVE_BUILD_PENDING_TIMEOUT", default=60)  # seconds
WAVE_BUILD_REQUEUE_LIMIT = env.int("WAVE_BUILD_REQUEUE_LIMIT", default=3)
# Pull records a web process keeps while Postgres is away; past it new ones are dropped (and counted).
WAVE_PULL_RECORD_BUFFER = env.int("WAVE_PULL_RECORD_BUFFER", default=100_000)
WAVE_DEFAULT_PLATFORM = env.str("WAVE_DEFAULT_PLATFORM", default="linux/amd64")
WAVE_MAX_CONTAINER_FILE = env.int("WAVE_MAX_CONTAINER_FILE", default=10_000)  # bytes, decoded
WAVE_MAX_CONDA_FILE = env.int("WAVE_MAX_CONDA_FILE", default=50_000)
WAVE_MAX_LAYER_SIZE = env.int("WAVE_MAX_LAYER_SIZE", default=10 * 1024 * 1024)
# Bounded work per request (README, Bounded requests): inflating a layer stops past this many bytes or
# once it passes this many times the compressed bytes read (a gzip bomb); caps on counts and the body.
WAVE_MAX_LAYER_INFLATED_SIZE = env.int("WAVE_MAX_LAYER_INFLATED_SIZE", default=1024**3)
WAVE_MAX_LAYER_RATIO = env.int("WAVE_MAX_LAYER_RATIO", default=100)
WAVE_MAX_LAYERS = env.int("WAVE_MAX_LAYERS", default=100)  # containerConfig.layers per request
WAVE_MAX_INCLUDES = env.int("WAVE_MAX_INCLUDES", default=10)  # containerIncludes per request (Wave's limit)
WAVE_MAX_LIST_ENTRIES = env.int("WAVE_MAX_LIST_ENTRIES", default=1000)  # env, cmd, packages entries, channels...
WAVE_MAX_JSON_DEPTH = env.int("WAVE_MAX_JSON_DEPTH", default=32)  # nesting of objects and arrays in a body
# A body of one layer of WAVE_MAX_LAYER_SIZE in base64 plus 2 MiB for the rest; Django's own limit follows it.
WAVE_MAX_BODY_SIZE = env.int("WAVE_MAX_BODY_SIZE", default=-(-WAVE_MAX_LAYER_SIZE // 3) * 4 + 2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = WAVE_MAX_BODY_SIZE
# A `buildContext` archive: at most this many entries and bytes of file content once unpacked.
WAVE_MAX_CONTEXT_ENTRIES = env.int("WAVE_MAX_CONTEXT_ENTRIES", default=10_000)
WAVE_MAX_CONTEXT_SIZE = env.int("WAVE_MAX_CONTEXT_SIZE", default=100 * 1024 * 1024)
WAVE_FUSION_PATTERN = env.str("WAVE_FUSION_PATTERN", default="https://fusionfs.seqera.io/")
# The security scanner backend (containers/scanning.py); none: scan requests get Wave's 501.
WAVE_SCANNER = env.str("WAVE_SCANNER", default="")
WAVE_CONDA_CHANNELS = env.list("WAVE_CONDA_CHANNELS", default=["conda-forge", "bioconda"])
WAVE_CONDA_BASE_PACKAGES = env.str("WAVE_CONDA_BASE_PACKAGES", default="conda-forge::procps-ng")
WAVE_CONDA_MAMBA_IMAGE = env.str("WAVE_CONDA_MAMBA_IMAGE", default="mambaorg/micromamba:1.5.10-noble")
# The build images of Wave's templates conda/micromamba:v2, conda/pixi:v1 and cran/installr:v1 (builds/templates.py).
WAVE_CONDA_MAMBA_IMAGE_V2 = env.str("WAVE_CONDA_MAMBA_IMAGE_V2", default="mambaorg/micromamba:2-amazon2023")
WAVE_PIXI_IMAGE = env.str("WAVE_PIXI_IMAGE", default="public.cr.seqera.io/wave/pixi:0.61.0-noble")
WAVE_CRAN_IMAGE = env.str("WAVE_CRAN_IMAGE", default="rocker/r-ver:4.4.1")
# The image conda environments are laid on (glibc-based), and where named channels live.
WAVE_CONDA_BASE_IMAGE = env.str("WAVE_CONDA_BASE_IMAGE", default=f"{WAVE_DEFAULT_REGISTRY}/library/debian:bookworm-slim")
WAVE_CONDA_CHANNEL_ALIAS = env.str("WAVE_CONDA_CHANNEL_ALIAS", default="https://conda.anaconda.org/")
# Conda packages are solved, installed and packed by a child process as this unprivileged user,
# with at most WAVE_BUILD_MEMORY, in this folder (outside data/).
WAVE_BUILD_USER = env.str("WAVE_BUILD_USER", default="wave-build")
WAVE_CONDA_WORK_DIR = Path(env.str("WAVE_CONDA_WORK_DIR", default="/var/tmp/wave-conda"))
WAVE_UPSTREAM_TIMEOUT = env.float("WAVE_UPSTREAM_TIMEOUT", default=20.0)  # seconds
# Seconds a pooled upstream client, with the registry credentials it was made with, is reused.
WAVE_UPSTREAM_CLIENT_TTL = env.float("WAVE_UPSTREAM_CLIENT_TTL", default=60.0)
WAVE_COMMIT_ID = env.str("WAVE_COMMIT_ID", default="")
# Other towerEndpoint values treated as this service.
WAVE_ACCEPTED_TOWER_ENDPOINTS = env.list("WAVE_ACCEPTED_TOWER_ENDPOINTS", default=[])
# Seqera Platform endpoints the operator trusts, the public ones Nextflow and wave-cli send by default:
# a request naming one without a towerAccessToken is anonymous (README, Accounts).
WAVE_PLATFORM_ENDPOINTS = env.list(
    "WAVE_PLATFORM_ENDPOINTS", default=["https://api.cloud.seqera.io", "https://api.cloud.stage-seqera.io"]
)
# Tokens of those Platforms are checked with their user-info call (README, Accounts): seconds one
# call may take, and seconds a user, or a refusal, is cached.
WAVE_PLATFORM_TIMEOUT = env.float("WAVE_PLATFORM_TIMEOUT", default=10.0)
WAVE_PLATFORM_CACHE_TTL = env.int("WAVE_PLATFORM_CACHE_TTL", default=300)
WAVE_PLATFORM_REFUSAL_CACHE_TTL = env.int("WAVE_PLATFORM_REFUSAL_CACHE_TTL", default=30)
# Fernet keys for stored registry secrets, newest first: encrypt with the first, decrypt with any.
WAVE_CREDENTIALS_KEYS = [k for k in _secret("WAVE_CREDENTIALS_KEYS", default="").split(",") if k]

# Rate limits, as `<count>/<window seconds>`; with a token per user, without one per client IP.
WAVE_RATE_LIMIT_BUILDS_USER = env.str("WAVE_RATE_LIMIT_BUILDS_USER", default="100/3600")
WAVE_RATE_LIMIT_PULLS_USER = env.str("WAVE_RATE_LIMIT_PULLS_USER", default="1000/60")
WAVE_RATE_LIMIT_BUILDS_ANONYMOUS = env.str("WAVE_RATE_LIMIT_BUILDS_ANONYMOUS", default="25/86400")
WAVE_RATE_LIMIT_PULLS_ANONYMOUS = env.str("WAVE_RATE_LIMIT_PULLS_ANONYMOUS", default="250/3600")
# Package searches of the new-container page (README, The new-container page), answers kept WAVE_PACKAGE_SEARCH_TTL seconds.
WAVE_RATE_LIMIT_SEARCHES_USER = env.str("WAVE_RATE_LIMIT_SEARCHES_USER", default="1200/3600")
WAVE_RATE_LIMIT_SEARCHES_ANONYMOUS = env.str("WAVE_RATE_LIMIT_SEARCHES_ANONYMOUS", default="300/3600")
WAVE_PACKAGE_SEARCH_TTL = env.int("WAVE_PACKAGE_SEARCH_TTL", default=600)
# Proxies whose X-Forwarded-For is believed (the client IP of rate limits and request records).
WAVE_TRUSTED_PROXIES = env.list("WAVE_TRUSTED_PROXIES", default=[])
# Throttles on guessing, per client IP, as `<failures>/<window seconds>` (README, Throttles): unknown
# container tokens on /v2/, and failed password logins (pages, admin, metrics Basic auth).
WAVE_RATE_LIMIT_TOKEN_MISSES = env.str("WAVE_RATE_LIMIT_TOKEN_MISSES", default="100/60")
WAVE_RATE_LIMIT_LOGIN_FAILURES = env.str("WAVE_RATE_LIMIT_LOGIN_FAILURES", default="10/900")
# Access tokens (towerAccessToken / Bearer) refused with a 401: also the Seqera Platform calls a stranger can cause.
WAVE_RATE_LIMIT_ACCESS_TOKEN_FAILURES = env.str("WAVE_RATE_LIMIT_ACCESS_TOKEN_FAILURES", default="20/60")

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[urlsplit(WAVE_SERVER_URL).hostname or "localhost", "localhost", "127.0.0.1", "[::1]"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[WAVE_SERVER_URL])
# A form refused for CSRF: a page in the site's layout saying what to do, not Django's own page.
CSRF_FAILURE_VIEW = "wave_site.errors.csrf_failure"
# Behind a TLS front (WAVE_SERVER_URL https): Secure session and CSRF cookies, HSTS for this many
# seconds, and the front's X-Forwarded-Proto believed (SESSION_COOKIE_SECURE, CSRF_COOKIE_SECURE,
# SECURE_HSTS_SECONDS, SECURE_PROXY_SSL_HEADER; wave_site/security_headers.py).
WAVE_HSTS_SECONDS = env.int("WAVE_HSTS_SECONDS", default=31536000)
globals().update(https_settings(WAVE_SERVER_URL, WAVE_HSTS_SECONDS))

# --- Django --------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "accounts",
    "containers",
    "builds",
    "metrics",
    "limits",
    "mirrors",
]

MIDDLEWARE = [
    "wave_site.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # /static/ from STATIC_ROOT, before sessions and the rest
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wave_site.security_headers.frame_ancestors",
    "limits.login_throttle.LoginThrottleMiddleware",
]

ROOT_URLCONF = "wave_site.urls"
APPEND_SLASH = False
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

WSGI_APPLICATION = "wave_site.wsgi.application"
ASGI_APPLICATION = "wave_site.asgi.application"

DATABASES = {"default": env.db_url_config(_secret("DATABASE_URL", default="postgres://wave_app@127.0.0.1:5433/wave"))}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
# Under ASGI each request's sync code runs in its own thread, so persistent per-thread connections
# pile up; a process-wide psycopg pool bounds them instead.
DATABASES["default"]["CONN_MAX_AGE"] = 0
# The pool's attempts to reconnect back off without bound (1, 2, 4 ... 64 s), so after a 40 s outage it
# sat 27 s more without a connection, past a build's heartbeat timeout; an attempt that gives up after
# `reconnect_timeout` is started again from 1 s by the next query that needs a connection.
DATABASES["default"]["OPTIONS"] = {
    "pool": {"min_size": 1, "max_size": env.int("DATABASE_POOL_SIZE", default=10), "timeout": 10, "reconnect_timeout": 10}
}
# The pool checks each connection (an empty query) as it hands it out: after a Postgres restart every
# pooled connection is dead, and without the check each gave one request a 500.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

REDIS_URL = _secret("REDIS_URL", default="redis://127.0.0.1:6380/0")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
# Jobs are JSON: a pickle in Redis is code the worker runs when it loads the job. Workers are started
# with the same `--serializer`.
RQ_SERIALIZER = "rq.serializers.JSONSerializer"
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": WAVE_BUILD_TIMEOUT + 120, "SERIALIZER": RQ_SERIALIZER}
    for name in {"default", WAVE_BUILD_QUEUE, WAVE_BLOB_CACHE_QUEUE, *(queue_name(WAVE_BUILD_QUEUE, p) for p in BUILD_PLATFORMS)}
}
RQ = {"WORKER_CLASS": "builds.worker.BuildWorker"}  # `manage.py rqworker`: horses that die with their worker

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
# Filled by `collectstatic` (scripts/stack up and test) and served by WhiteNoise from the ASGI app:
# hashed names, cached for a year (README, Static files and health).
STATIC_ROOT = Path(env.str("WAVE_STATIC_ROOT", default=str(WAVE_DATA_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "wave_site" / "static"]  # the site's own stylesheet (wave_site is no app)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "wave_site.static.StaticStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/view/builds/"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "wave_site.errors.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": ["wave_site.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "URL_FORMAT_OVERRIDE": None,  # `?format=` belongs to endpoints (the conda lock), not to renderers
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Wave-compatible container provisioning API",
    "DESCRIPTION": "Container requests, builds, inspect and service information.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Builds and mirrors share one status enum; a container request's is another (unnamed, they collide).
    "ENUM_NAME_OVERRIDES": {"RecordStatusEnum": ["PENDING", "COMPLETED"], "ContainerStatusEnum": ["PENDING", "BUILDING", "DONE"]},
    # A Retry-After header on every 429, words for path parameters (wave_site/openapi.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "wave_site.openapi.describe"],
}

# Logs are JSON lines carrying the request id (LOG_FORMAT=plain for people reading a terminal).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "wave_site.observability.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "wave_site.observability.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env.str("LOG_FORMAT", default="json"),
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
