"""Settings shared by every environment. Environment variables are documented in README.md."""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("VMB_VAR_DIR", str(BASE_DIR / "var")))
# The metrics every process writes and /metrics reads (pipelines/metrics.py, docs/metrics.md).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "prometheus"))
# A bearer token that lets a scraper on another host read /metrics (empty: loopback and staff only).
VMB_METRICS_TOKEN = env_str("VMB_METRICS_TOKEN", "")
# The built single-page app; a test may point its live stack at a private build (VMB_FRONTEND_DIST).
FRONTEND_DIST = Path(env_str("VMB_FRONTEND_DIST", str(BASE_DIR / "frontend" / "dist")))

# Development only: production refuses this key (config/settings/production.py).
DEVELOPMENT_SECRET_KEY = "dev-insecure-key-change-me-0123456789-abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "domain",
    "api",
]

MIDDLEWARE = [
    "api.metrics.RequestMetricsMiddleware",  # first: it times and counts every answer
    "django.middleware.security.SecurityMiddleware",
    "api.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Persistent connections (60 s) suit the sync processes: Celery workers and management commands.
# The ASGI web process sets VMB_DB_CONN_MAX_AGE=0 before settings load (config/asgi.py): under ASGI
# each request runs in its own context, so a kept connection is never reused, only dropped, and
# its socket stays open until the garbage collector happens to free it (Django's docs: "When
# using ASGI, persistent connections should be disabled").
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("VMB_DB_CONN_MAX_AGE", 60, minimum=0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web and worker share the file: wait for a lock instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# The built single-page app is served from the site root (/, /assets/...).
WHITENOISE_ROOT = FRONTEND_DIST if FRONTEND_DIST.is_dir() else None

MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
# Every artifact goes through STORAGES["default"] (issue 18): local files by default, or an
# S3-compatible store (S3, MinIO) with VMB_STORAGE_BACKEND=s3 and the S3_* variables.
S3_BACKEND = "storages.backends.s3.S3Storage"
_storage_backend = env_str("VMB_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")
if _storage_backend in ("s3", S3_BACKEND):
    STORAGES = {"default": {"BACKEND": S3_BACKEND, "OPTIONS": {
        "bucket_name": env_str("S3_BUCKET", ""),
        "endpoint_url": env_str("S3_ENDPOINT_URL", "") or None,
        "access_key": env_str("S3_ACCESS_KEY_ID", "") or None,
        "secret_key": env_str("S3_SECRET_ACCESS_KEY", "") or None,
        "region_name": env_str("S3_REGION", "") or None,
        "file_overwrite": True,  # names are chosen by the app; a rewrite replaces (e.g. a pointer)
    }}}
    if not STORAGES["default"]["OPTIONS"]["bucket_name"]:
        raise ImproperlyConfigured("VMB_STORAGE_BACKEND=s3 needs S3_BUCKET")
else:
    STORAGES = {"default": {"BACKEND": _storage_backend}}
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}
# Workers and the serving app keep a local copy of the objects they read from the store, named by
# content hash and bounded in size with LRU eviction (pipelines/storage/cache.py).
CACHE_DIR = Path(env_str("VMB_CACHE_DIR", str(VAR_DIR / "cache")))
CACHE_BYTES = env_int("VMB_CACHE_BYTES", 20 * 1024**3, minimum=1)

# Largest JSON body the API accepts (graph documents are the biggest); uploads use their own limit.
API_MAX_BODY_BYTES = env_int("VMB_API_MAX_BODY_BYTES", 8 * 1024 * 1024, minimum=1024)
# ONNX Runtime intra-op threads per deployed model in each serving process (0: its default, one per
# core). Measured in bench/compress_bench.py, a 1 ms model served by 2 processes on 2 cores did
# better with all cores each than with a share, once idle threads sleep instead of spinning.
SERVING_THREADS = env_int("VMB_SERVING_THREADS", 0, minimum=0)
# The serving app (serving/) shares rate-limit windows and request counts through Redis under this prefix.
SERVING_REDIS_PREFIX = env_str("VMB_CHANNEL_PREFIX", "vmb")
# How often a worker folds the serving app's request counts into the database and rewrites its index.
SERVING_SYNC_S = env_int("VMB_SERVING_SYNC_S", 30, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

# Open WebSockets per user, across every web process (api/sockets.py); a claim lapses after
# WS_CLAIM_TTL_S unless its client pings.
WS_MAX_PER_USER = env_int("VMB_WS_MAX_PER_USER", 32, minimum=1)
WS_CLAIM_TTL_S = env_int("VMB_WS_CLAIM_TTL_S", 3600, minimum=30)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s socket timeout by default, the same as channels_redis'
        # blocking pop (BZPOPMIN, 5 s): a socket idle for 5 s dies with TimeoutError and its
        # consumer stops receiving. A longer socket timeout lets the pop return empty first.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "prefix": env_str("VMB_CHANNEL_PREFIX", "vmb"),
        },
    }
}

# Celery: JSON only, bounded tasks, and a task survives its worker being killed.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("VMB_TASK_TIME_LIMIT", 24 * 3600, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("VMB_TASK_SOFT_TIME_LIMIT", 24 * 3600 - 60, minimum=1)
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_ROUTES = {"runs.train_run": {"queue": "gpu"}}
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 24 * 3600}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an unauthenticated request answers 401 with WWW-Authenticate.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],  # bounds nesting (api/parsers.py)
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",  # documents the error responses
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"auth": env_str("VMB_AUTH_THROTTLE", "30/min")},
    # How many reverse proxies in front append to X-Forwarded-For. 0: the client is REMOTE_ADDR
    # and the header is ignored; N: the N-th address from its right. Every throttle reads the
    # client through DRF's get_ident, which follows this (docs/security-login.md).
    "NUM_PROXIES": env_int("VMB_TRUSTED_PROXIES", 0, minimum=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Visual Model Builder API",
    "DESCRIPTION": "Build, train and deploy neural networks. Session auth (browser) or "
    "`Authorization: Token <key>` (scripts; get a key from POST /api/v1/auth/token/).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from this server, so the docs work on an offline installation.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "api.schema.json_schema_to_openapi30"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# ---- Datasets (issue 4): uploads, quota, ingest caps ------------------------------------------
# Uploads arrive in tus chunks at /api/v1/uploads/, staged in DATASET_UPLOAD_STAGING_DIR (shared by every
# web replica) then saved to STORAGES, or with S3 staged as an S3 multipart upload (domain/datasets/multipart.py).
DATASET_UPLOAD_PREFIX = "/api/v1/uploads/"
DATASET_UPLOAD_MAX_BYTES = env_int("VMB_UPLOAD_MAX_BYTES", 20 * 1024**3, minimum=1)
# The upload view reads one chunk at a time, so this bounds the web process's memory per upload.
DATASET_UPLOAD_CHUNK_MAX_BYTES = env_int("VMB_UPLOAD_CHUNK_MAX_BYTES", 16 * 1024**2, minimum=1024)
DATASET_USER_QUOTA_BYTES = env_int("VMB_USER_QUOTA_BYTES", 50 * 1024**3, minimum=1)
DATASET_UPLOAD_STAGING_DIR = Path(env_str("VMB_UPLOAD_STAGING_DIR", str(VAR_DIR / "uploads")))
# An unfinished upload no chunk reached for this long is deleted with its staged bytes (tus
# expiration: Upload-Expires; the beat's "expire-uploads" runs hourly).
DATASET_UPLOAD_EXPIRE_S = env_int("VMB_UPLOAD_EXPIRE_HOURS", 72, minimum=1) * 3600
# Extracted data and the preprocessed caches; web and workers must share it (a volume).
DATASETS_ROOT = Path(env_str("VMB_DATASETS_DIR", str(MEDIA_ROOT / "datasets")))
# After a DICOM ingest its upload is deleted ("none"), or de-identified copies of the slices used
# are kept beside the cache ("deidentified"; docs/guides/datasets.md, "No patient data left behind").
DATASET_KEEP_ORIGINALS = env_str("VMB_KEEP_ORIGINALS", "none")
if DATASET_KEEP_ORIGINALS not in ("none", "deidentified"):
    raise ImproperlyConfigured(f"VMB_KEEP_ORIGINALS={DATASET_KEEP_ORIGINALS!r}: use none or deidentified")
# Caps on what one ingest may extract and decode (see pipelines/datasets/limits.py).
DATASET_INGEST_LIMITS = {
    "max_archive_bytes": env_int("VMB_INGEST_MAX_ARCHIVE_BYTES", 100 * 1024**3, minimum=1),
    "max_entries": env_int("VMB_INGEST_MAX_ENTRIES", 500_000, minimum=1),
    "max_ratio": env_int("VMB_INGEST_MAX_RATIO", 200, minimum=1),
    "max_image_pixels": env_int("VMB_INGEST_MAX_IMAGE_PIXELS", 64_000_000, minimum=1),
    "max_volume_voxels": env_int("VMB_INGEST_MAX_VOLUME_VOXELS", 256_000_000, minimum=1),
    "max_csv_field": env_int("VMB_INGEST_MAX_CSV_FIELD", 4 * 1024**2, minimum=1024),
    # Extraction stops while writing when the filesystem would have less than this share free.
    "min_free_fraction": env_int("VMB_INGEST_MIN_FREE_PERCENT", 10, minimum=0) / 100,
}
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}),
    "UploadStatusEnum": "domain.datasets.models.UploadStatus",
}

# ---- Training runs (issue 5): checkpoints, heartbeats, the reaper, socket rate ----------------------
# Checkpoints and trained weights; web and workers must share it (a volume), like the datasets.
TRAINING_RUNS_DIR = Path(env_str("VMB_RUNS_DIR", str(MEDIA_ROOT / "runs")))
TRAINING_HEARTBEAT_S = env_int("VMB_RUN_HEARTBEAT_S", 2, minimum=1)
# A running run whose heartbeat is older than this is reaped (requeued, or failed after max_attempts).
TRAINING_STALE_AFTER_S = env_int("VMB_RUN_STALE_AFTER_S", 60, minimum=5)
# A queued run nothing was heard of for this long (its message lost: a broker restarted without
# persistence) has its task sent again by the reaper; a second copy is harmless (attempt claims).
TRAINING_RESEND_AFTER_S = env_int("VMB_RUN_RESEND_AFTER_S", 300, minimum=5)
# Most events per second a run's WebSocket forwards; the rest are dropped (the last is kept).
TRAINING_WS_MAX_EVENTS_PER_S = env_int("VMB_RUN_WS_MAX_EVENTS_PER_S", 20, minimum=1)
# The Celery queue a run goes to: runs asking for the CPU go to "cpu", all others to "gpu".
TRAINING_QUEUES = {"cpu": env_str("VMB_RUN_CPU_QUEUE", "cpu"), "gpu": env_str("VMB_RUN_GPU_QUEUE", "gpu")}
CELERY_BEAT_SCHEDULE = {
    "reap-stale-training-runs": {"task": "runs.reap_stale_runs",
                                 "schedule": float(TRAINING_STALE_AFTER_S), "options": {"queue": "cpu"}},
    "sync-serving": {"task": "deploy.sync_serving", "schedule": float(SERVING_SYNC_S), "options": {"queue": "cpu"}},
    "expire-uploads": {"task": "datasets.expire_uploads", "schedule": 3600.0, "options": {"queue": "cpu"}},
}

# Each model's status choices get their own name in the OpenAPI schema.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"],
    "JobStatusEnum": "domain.jobs.models.JobStatus",
}

# ---- Models, deployments and the market: folders web and workers must share (a volume) -------
DEPLOY_DIR = Path(env_str("VMB_MODELS_DIR", str(MEDIA_ROOT / "models")))
MARKET_DIR = Path(env_str("VMB_MARKET_DIR", str(MEDIA_ROOT / "market")))
# Bundles and pretrained weights are uploaded whole (multipart, spooled to disk by Django), so
# these two paths take bodies up to this size instead of API_MAX_BODY_BYTES.
MARKET_UPLOAD_PATHS = ("/api/v1/market/import/", "/api/v1/market/import-torchvision/")
MARKET_UPLOAD_MAX_BYTES = env_int("VMB_MARKET_UPLOAD_MAX_BYTES", 2 * 1024**3, minimum=1024)

# ---- Sign-in throttling (issue 15): per account and per client, shared through Redis ----------
# Throttle counters (DRF's request rates) must be shared by every web process and replica.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                "KEY_PREFIX": "vmb"},
}
AUTHENTICATION_BACKENDS = ["api.auth_backend.ThrottledModelBackend"]
# See api/login_throttle.py and docs/security-login.md.
LOGIN_THROTTLE = {
    # Failed sign-ins for one username (known or not) before each further try waits 1 s, 2 s, ...
    "account_free_failures": env_int("VMB_LOGIN_FREE_FAILURES", 5, minimum=1),
    # Failed sign-ins that lock the account, even to the right password, and mail its owner a link.
    "account_lockout_failures": env_int("VMB_LOGIN_LOCKOUT_FAILURES", 10, minimum=1),
    # How long a lock lasts unless the owner or an admin clears it; also the longest backoff.
    "lockout_s": env_int("VMB_LOGIN_LOCKOUT_S", 3600, minimum=1),
    # Failed sign-ins from one client address, to any accounts, before its tries back off.
    "client_free_failures": env_int("VMB_LOGIN_CLIENT_FREE_FAILURES", 20, minimum=1),
}
if LOGIN_THROTTLE["account_lockout_failures"] < LOGIN_THROTTLE["account_free_failures"]:
    raise ImproperlyConfigured("VMB_LOGIN_LOCKOUT_FAILURES must be at least VMB_LOGIN_FREE_FAILURES")
# The site's address for links in emails, e.g. https://vmb.example.org; unset: the request's host.
PUBLIC_URL = env_str("VMB_PUBLIC_URL", "")
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "webmaster@localhost")
