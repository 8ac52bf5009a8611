"""twinadmin settings: everything that differs between a laptop and production comes from the
environment (or a `.env` file beside manage.py), parsed by django-environ. The defaults are the
embedded stack: SQLite and a local vector store under var/, and a Celery broker on the file
system, so one command runs everything on a fresh machine."""

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.str(name, default=default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


DEBUG = env.bool("DEBUG", default=False)
_DEV_SECRET_KEY = "dev-only-insecure-key-never-used-when-DEBUG-is-off"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = _DEV_SECRET_KEY
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "twinadmin.accounts",
    "twinadmin.jobs",
    "twinadmin.audit",
    "twinadmin.vectors",
    "twinadmin.registry",
    "twinadmin.search",
    "twinadmin.lineage",
    "twinadmin.erasure",
    "twinadmin.drills",
    "migrations_app",
    "twinadmin.ops",
    "django_prometheus",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "ninja",  # django-ninja: its Swagger UI from our static files (no CDN), for the API docs
    "twinadmin.api",
]

MIDDLEWARE = [
    # First and last: request counts and latencies by view for /metrics (twinadmin.ops).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A page's index calls retry for seconds, not a worker's minutes.
    "twinadmin.vectors.deadlines.PageDeadlineMiddleware",
    # An index error a view lets through answers 503 (or 429 when rate-limited), not 500.
    "twinadmin.ops.index_errors.IndexErrorMiddleware",
    # request.user.is_verified(): signed in with the second factor too (django-otp); then ours
    # keeps a session that still owes its code, or a role's mandatory setup, on those pages.
    "django_otp.middleware.OTPMiddleware",
    "twinadmin.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a lockout (django-axes) into the sign-in page's answer; the last of ours.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "twinadmin.urls"
WSGI_APPLICATION = "twinadmin.wsgi.application"

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
                "twinadmin.accounts.context_processors.roles",
            ],
            "builtins": ["twinadmin.lib.ui"],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'twinadmin.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and several worker processes share one file: WAL lets readers go on while
    # one writer commits, IMMEDIATE takes the write lock up front (no upgrade deadlocks), and the
    # timeout makes a writer wait for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not :memory:, so that a real worker process in the integration tests sees the
    # test database too.
    DATABASES["default"]["TEST"] = {
        # One file per process: two pytest sessions in one checkout must not share it.
        "NAME": env.str("TEST_SQLITE_PATH", default=str(VAR_DIR / f"test-{os.getpid()}.sqlite3"))
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The pages' queries are short; PostgreSQL's JIT compiles the larger ones (Drift's joins at
    # 100,000 namespaces) for longer than they run: 140 ms of a 166 ms query. Off per connection
    # by default; POSTGRES_JIT=server sends nothing and leaves it to the server's configuration
    # (a pooler such as PgBouncer may refuse startup options).
    POSTGRES_JIT = env.str("POSTGRES_JIT", default="off")
    if POSTGRES_JIT not in ("off", "server"):
        raise ImproperlyConfigured(f"POSTGRES_JIT={POSTGRES_JIT!r}: off or server")
    if POSTGRES_JIT == "off":
        _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
        _pg_options["options"] = (_pg_options.get("options", "") + " -c jit=off").strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out user or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts-login"
LOGIN_REDIRECT_URL = "registry-overview"
LOGOUT_REDIRECT_URL = "accounts-login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise serves app and project static files straight from the finders, so no collectstatic
# is needed to run; set STATIC_ROOT (and run collectstatic) to serve a collected copy instead.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
WHITENOISE_USE_FINDERS = True
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Security: HTTPS, sessions, Content-Security-Policy -----------------------------------
# HTTPS=1: the site is served over HTTPS only. Cookies go over HTTPS only, plain HTTP is
# redirected, and browsers are told (HSTS) to use nothing but HTTPS for a year.
HTTPS = env.bool("HTTPS", default=False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
# A load balancer's health probe speaks plain HTTP to the backend.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600) if HTTPS else 0
if SECURE_HSTS_SECONDS < 0:
    raise ImproperlyConfigured("SECURE_HSTS_SECONDS cannot be negative")
# Their own switches: HSTS for every subdomain of the host, and the browsers' preload list, bind
# other sites of the domain and are hard to undo, so they are a decision, not a default.
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS and env.bool("HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = HTTPS and env.bool("HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS: list[str] = []
if SECURE_HSTS_SECONDS and not SECURE_HSTS_INCLUDE_SUBDOMAINS:
    SILENCED_SYSTEM_CHECKS.append("security.W005")  # left off on purpose: HSTS_INCLUDE_SUBDOMAINS
if SECURE_HSTS_SECONDS and not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS.append("security.W021")  # left off on purpose: HSTS_PRELOAD
# Behind a proxy that ends TLS: believe its X-Forwarded-Proto. Only when the proxy always sets
# (or strips) that header; otherwise a client could claim HTTPS over plain HTTP.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Staff sessions: one working day, then sign in again.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
if SESSION_COOKIE_AGE < 60:
    raise ImproperlyConfigured("SESSION_COOKIE_AGE must be 60 seconds or more")

# Content-Security-Policy (django-csp): every script and style comes from our static files; no
# inline script, event handler or style attribute runs (static/js/app.js holds the behaviour).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # data: only for base.html's empty favicon
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# --- Sign-in protection ---------------------------------------------------------------------
# django-axes: LOGIN_FAILURE_LIMIT failed sign-ins for one username, or from one client address,
# lock that username, or that address, out for LOGIN_COOLOFF_MINUTES. A successful sign-in
# clears the count. `manage.py axes_reset` (or axes_reset_username / axes_reset_ip) lifts one.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_COOLOFF_MINUTES = env.int("LOGIN_COOLOFF_MINUTES", default=15)
if LOGIN_FAILURE_LIMIT < 1 or LOGIN_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES must be 1 or more")
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own, not the pair
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no banner on every manage.py command; lockouts are still logged
AXES_LOCKOUT_CALLABLE = "twinadmin.accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "twinadmin.accounts.lockout.client_ip"
AXES_USERNAME_CALLABLE = "twinadmin.accounts.lockout.lockout_username"
# The client address is the one the connection comes from (REMOTE_ADDR). Behind a reverse proxy
# name the header it sets, e.g. X-Real-IP, or X-Forwarded-For (its right-most entry, the one
# the proxy added, is taken). Only a header the proxy always overwrites: clients can send any.
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="").strip()
if CLIENT_IP_HEADER and not CLIENT_IP_HEADER.replace("-", "").isalnum():
    raise ImproperlyConfigured(f"CLIENT_IP_HEADER={CLIENT_IP_HEADER!r} is not an HTTP header name")

# Two-factor sign-in (django-otp, TOTP): optional for everyone; mandatory for the role groups
# named here (twinadmin/accounts/roles.py), e.g. REQUIRE_2FA_FOR=approvers,operators.
REQUIRE_2FA_FOR = [r.strip().lower() for r in env.list("REQUIRE_2FA_FOR", default=[]) if r.strip()]
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="twinadmin")

# --- Celery -------------------------------------------------------------------------------
# Default broker: kombu's filesystem transport under var/, which needs no server. Production
# sets CELERY_BROKER_URL to redis://... or amqp://...
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    _processed_dir = VAR_DIR / "celery" / "processed"
    _control_dir = VAR_DIR / "celery" / "control"  # exchange tables (kombu's default: ./control)
    for _d in (_queue_dir, _processed_dir, _control_dir):
        _d.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
    }
# Job state lives on our own rows (twinadmin.jobs), so no result backend is needed.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3900)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Periodic checks (run by `celery beat`, or `worker --beat` as the Procfile does).
# Jobs (twinadmin/jobs): a resumable job's lease, renewed at every checkpoint; the sweep that
# hands work of dead workers to live ones runs this often.
JOB_LEASE_SECONDS = env.float("JOB_LEASE_SECONDS", default=30.0)
JOB_SWEEP_SECONDS = env.float("JOB_SWEEP_SECONDS", default=15.0)
# A pending job whose message was last sent longer ago than this is taken for lost (a broker
# restarted empty) and sent again by the sweep: once per loss, the claim keeps it to one run.
JOB_RESEND_AFTER_SECONDS = env.float("JOB_RESEND_AFTER_SECONDS", default=60.0)
if JOB_LEASE_SECONDS <= 0 or JOB_SWEEP_SECONDS <= 0 or JOB_RESEND_AFTER_SECONDS <= 0:
    raise ImproperlyConfigured(
        "JOB_LEASE_SECONDS, JOB_SWEEP_SECONDS and JOB_RESEND_AFTER_SECONDS must be positive"
    )
# Audit log (twinadmin/audit): the Ed25519 key that signs checkpoints and receipts lives in this
# file, never in the database (`manage.py audit_keygen` creates it); checkpoints are written as
# files into this directory, in production a volume or bucket the database's administrators
# cannot write. The worker writes one after every erasure and twin deletion and on this period.
AUDIT_SIGNING_KEY_FILE = env.path("AUDIT_SIGNING_KEY_FILE", default=VAR_DIR / "audit" / "signing-key.pem")
AUDIT_CHECKPOINT_DIR = env.path("AUDIT_CHECKPOINT_DIR", default=VAR_DIR / "audit" / "checkpoints")
AUDIT_CHECKPOINT_SECONDS = env.float("AUDIT_CHECKPOINT_SECONDS", default=3600.0)
if AUDIT_CHECKPOINT_SECONDS <= 0:
    raise ImproperlyConfigured("AUDIT_CHECKPOINT_SECONDS must be positive")
CELERY_BEAT_SCHEDULE = {
    "jobs-sweep": {"task": "jobs.sweep", "schedule": JOB_SWEEP_SECONDS},
    "audit-checkpoint": {"task": "audit.checkpoint", "schedule": AUDIT_CHECKPOINT_SECONDS},
    "drift-report-daily": {"task": "registry.scheduled_drift_report", "schedule": 24 * 3600},
    "erasure-drill-daily": {"task": "drills.scheduled_erasure_drill", "schedule": 24 * 3600},
}

# --- Vector index -------------------------------------------------------------------------
VECTOR_BACKEND = _choice("VECTOR_BACKEND", "local", ("local", "pinecone"))
VECTOR_LOCAL_PATH = env.path("VECTOR_LOCAL_PATH", default=VAR_DIR / "vectors.sqlite3")
VECTOR_DIMENSION = env.int("VECTOR_DIMENSION", default=1536)
VECTOR_METRIC = _choice("VECTOR_METRIC", "cosine", ("cosine", "dotproduct", "euclidean"))
# Memory (MB, per process) the local store may hold as query matrices, least recently used
# namespace out first; a namespace larger than this is scanned instead. 0 turns the cache off.
VECTOR_LOCAL_CACHE_MB = env.float("VECTOR_LOCAL_CACHE_MB", default=1024.0)
if not VECTOR_LOCAL_CACHE_MB >= 0:
    raise ImproperlyConfigured("VECTOR_LOCAL_CACHE_MB must be 0 or more")
PINECONE_API_KEY = env.str("PINECONE_API_KEY", default="")
PINECONE_INDEX_HOST = env.str("PINECONE_INDEX_HOST", default="")
PINECONE_INDEX_NAME = env.str("PINECONE_INDEX_NAME", default="digital-twin-brain")
# The control plane that looks PINECONE_INDEX_NAME up (empty: Pinecone's public API), e.g. a
# `manage.py pinecone_local` at http://127.0.0.1:5081. With VECTOR_BACKEND=pinecone the index's
# dimension, metric and vector type are read from the index; VECTOR_DIMENSION/VECTOR_METRIC only
# shape a new local store.
PINECONE_CONTROLLER_HOST = env.str("PINECONE_CONTROLLER_HOST", default="")
# -- pipeline: the adapter's transport ("rest", or the SDK's gRPC data plane) ---------------------
PINECONE_TRANSPORT = _choice("PINECONE_TRANSPORT", "rest", ("rest", "grpc"))
# Where gRPC is served when not at PINECONE_INDEX_HOST (Pinecone serves both on one host;
# `manage.py pinecone_local` on the next port, e.g. http://127.0.0.1:5082).
PINECONE_GRPC_HOST = env.str("PINECONE_GRPC_HOST", default="")
# The adapter's own retries on 429/5xx, on top of the SDK's few: per call, at most this many
# attempts within this many seconds (a long migration outlives a rate-limit storm).
PINECONE_RETRY_ATTEMPTS = env.int("PINECONE_RETRY_ATTEMPTS", default=8)
PINECONE_RETRY_DEADLINE_SECONDS = env.float("PINECONE_RETRY_DEADLINE_SECONDS", default=300.0)
# A page (any web request) stops retrying the index sooner and says it is busy
# (twinadmin.vectors.deadlines).
PINECONE_PAGE_DEADLINE_SECONDS = env.float("PINECONE_PAGE_DEADLINE_SECONDS", default=10.0)
if PINECONE_RETRY_ATTEMPTS < 1 or min(PINECONE_RETRY_DEADLINE_SECONDS, PINECONE_PAGE_DEADLINE_SECONDS) <= 0:
    raise ImproperlyConfigured(
        "PINECONE_RETRY_ATTEMPTS must be 1 or more and PINECONE_RETRY_DEADLINE_SECONDS and "
        "PINECONE_PAGE_DEADLINE_SECONDS positive"
    )
if VECTOR_BACKEND == "pinecone":
    if not PINECONE_API_KEY:
        raise ImproperlyConfigured("VECTOR_BACKEND=pinecone needs PINECONE_API_KEY")
    if not (PINECONE_INDEX_HOST or PINECONE_INDEX_NAME):
        raise ImproperlyConfigured("VECTOR_BACKEND=pinecone needs PINECONE_INDEX_HOST or PINECONE_INDEX_NAME")

# Namespace migrations (migrations_app/conf.py). 0 = chosen per backend: batches of 500 with 2
# in flight on the local store, 100 with 8 in flight over HTTP.
MIGRATION_BACKUP_DIR = env.path("MIGRATION_BACKUP_DIR", default=VAR_DIR / "backups")
MIGRATION_BACKUP_RETENTION_DAYS = env.int("MIGRATION_BACKUP_RETENTION_DAYS", default=30)
# Backups in object storage (issue 17; migrations_app/storage.py): `file:///…` or
# `s3://bucket/prefix` (S3 endpoint, region and credentials from the AWS_* variables). Empty:
# MIGRATION_BACKUP_DIR as a file URL. Each creator's backups are encrypted with their data key,
# stored wrapped by the key-encryption key in BACKUP_KEK_FILE (`manage.py backup_keygen`).
MIGRATION_BACKUP_URL = env.str("MIGRATION_BACKUP_URL", default="")
BACKUP_KEK_FILE = env.path("BACKUP_KEK_FILE", default=VAR_DIR / "backup-kek")
# How often beat deletes backups past their expiry (migrations.backup_expiry).
MIGRATION_BACKUP_EXPIRY_SECONDS = env.float("MIGRATION_BACKUP_EXPIRY_SECONDS", default=3600.0)
if MIGRATION_BACKUP_RETENTION_DAYS < 1 or MIGRATION_BACKUP_EXPIRY_SECONDS <= 0:
    raise ImproperlyConfigured(
        "MIGRATION_BACKUP_RETENTION_DAYS must be 1 or more and MIGRATION_BACKUP_EXPIRY_SECONDS positive"
    )
if MIGRATION_BACKUP_URL and not MIGRATION_BACKUP_URL.startswith(("file:///", "s3://")):
    raise ImproperlyConfigured("MIGRATION_BACKUP_URL must be a file:/// or s3://bucket/prefix URL")
CELERY_BEAT_SCHEDULE["backup-expiry"] = {
    "task": "migrations.backup_expiry",
    "schedule": MIGRATION_BACKUP_EXPIRY_SECONDS,
}
MIGRATION_BATCH_SIZE = env.int("MIGRATION_BATCH_SIZE", default=0)
MIGRATION_CONCURRENCY = env.int("MIGRATION_CONCURRENCY", default=0)
MIGRATION_COUNT_DEADLINE_SECONDS = env.float("MIGRATION_COUNT_DEADLINE_SECONDS", default=120.0)
# Erasure (twinadmin/erasure). 0 = 1 request in flight on the local store, 8 over HTTP.
ERASURE_VERIFY_TIMEOUT_SECONDS = env.float("ERASURE_VERIFY_TIMEOUT_SECONDS", default=120.0)
ERASURE_CONCURRENCY = env.int("ERASURE_CONCURRENCY", default=0)
# The erasure drill's cleanup keeps retrying a failing index this long before it reports leftovers.
DRILL_CLEANUP_TIMEOUT_SECONDS = env.float("DRILL_CLEANUP_TIMEOUT_SECONDS", default=300.0)
if DRILL_CLEANUP_TIMEOUT_SECONDS < 0:
    raise ImproperlyConfigured("DRILL_CLEANUP_TIMEOUT_SECONDS cannot be negative")

# Query-latency reports: ids listed per namespace to draw probes from, and the namespace size
# above which recall@k against exact search is not measured on approximate backends.
LATENCY_PROBE_POOL_MAX = env.int("LATENCY_PROBE_POOL_MAX", default=20_000)
LATENCY_EXACT_RECALL_MAX = env.int("LATENCY_EXACT_RECALL_MAX", default=20_000)
# The audit list counts matching entries up to this ("10,000+"), never a COUNT(*) of the log.
AUDIT_COUNT_CAP = env.int("AUDIT_COUNT_CAP", default=10_000)
if min(LATENCY_PROBE_POOL_MAX, LATENCY_EXACT_RECALL_MAX, AUDIT_COUNT_CAP) < 1:
    raise ImproperlyConfigured(
        "LATENCY_PROBE_POOL_MAX, LATENCY_EXACT_RECALL_MAX and AUDIT_COUNT_CAP must be 1 or more"
    )

# --- Email and links ----------------------------------------------------------------------
# Approvers are emailed when an erasure is filed and when one fails (twinadmin/erasure/notify.py),
# with a link built on this address (mail has no request to take the host from).
TWINADMIN_BASE_URL = env.str("TWINADMIN_BASE_URL", default="http://127.0.0.1:8000").strip().rstrip("/")
if not TWINADMIN_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"TWINADMIN_BASE_URL={TWINADMIN_BASE_URL!r} must start with http:// or https://"
    )
# EMAIL_URL (smtp://, smtp+tls://, smtps://, consolemail://: django-environ's email_url) wins;
# else EMAIL_HOST and friends mean SMTP; else the console under DEBUG (`make run` prints mail in
# its output) and Django's SMTP on localhost:25 (a local relay) without it.
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    _email = env.email_url_config(EMAIL_URL)
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
    EMAIL_PORT = _email.get("EMAIL_PORT", 25)
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
elif env.str("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", default=587)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ImproperlyConfigured(
            "EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on (TLS: port 587, SSL: 465)"
        )
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="twinadmin@localhost")
# A mail server that does not answer must not hold a web request (filing sends after commit).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# How old the stored index snapshot may be before the overview offers a refresh.
INDEX_SNAPSHOT_MAX_AGE_SECONDS = env.int("INDEX_SNAPSHOT_MAX_AGE_SECONDS", default=300)

# /metrics (Prometheus text format) answers these client addresses, or a request carrying
# "Authorization: Bearer $METRICS_TOKEN" when a token is set; everyone else gets 404.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- API (twinadmin/api) ------------------------------------------------------------------
# Calls per client per window, "<n>/<second|minute|hour>" (a fixed window counted in the
# database, shared by every web host); over it, 429 with Retry-After.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="120/minute").strip().lower()
_rate = API_RATE_LIMIT.split("/")
_periods = {"second": 1, "minute": 60, "hour": 3600}
if len(_rate) != 2 or not _rate[0].isdigit() or int(_rate[0]) < 1 or _rate[1] not in _periods:
    raise ImproperlyConfigured(
        f"API_RATE_LIMIT={API_RATE_LIMIT!r}: e.g. 120/minute (per second, minute or hour)"
    )
API_RATE_LIMIT_CALLS, API_RATE_LIMIT_SECONDS = int(_rate[0]), _periods[_rate[1]]
# Webhook URLs resolving to loopback, private, link-local or reserved addresses are refused (a
# webhook must not reach into the network twinadmin runs in) unless this is on.
API_WEBHOOK_ALLOW_PRIVATE = env.bool("API_WEBHOOK_ALLOW_PRIVATE", default=False)
API_WEBHOOK_TIMEOUT_SECONDS = env.float("API_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Retries after a failed delivery: 30 s, 1 min, 2 min, ... at most an hour apart, for a day.
API_WEBHOOK_RETRY_BASE_SECONDS = env.float("API_WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
API_WEBHOOK_RETRY_MAX_SECONDS = env.float("API_WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)
API_WEBHOOK_GIVE_UP_SECONDS = env.float("API_WEBHOOK_GIVE_UP_SECONDS", default=24 * 3600.0)
if min(API_WEBHOOK_TIMEOUT_SECONDS, API_WEBHOOK_RETRY_BASE_SECONDS, API_WEBHOOK_RETRY_MAX_SECONDS) <= 0:
    raise ImproperlyConfigured("API_WEBHOOK_TIMEOUT_SECONDS and API_WEBHOOK_RETRY_*_SECONDS must be positive")
# Deliveries whose message was lost are sent again, and idempotency keys older than a day forgotten.
CELERY_BEAT_SCHEDULE["api-webhook-sweep"] = {"task": "api.webhook_sweep", "schedule": 300}

# LOG_FORMAT=json: one JSON object per line (python-json-logger), for a log collector.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: text or json")
_CONSOLE_FORMAT = {"formatter": "json"} if LOG_FORMAT == "json" else {}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", **_CONSOLE_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The SDK and its HTTP client log every request at INFO, axes every sign-in (its lockouts
    # are WARNING).
    "loggers": {name: {"level": "WARNING"} for name in ("pinecone", "httpx", "axes")},
}
