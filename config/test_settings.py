"""Settings for pytest: the sandbox on, fast hashing, everything else as in production."""

import os
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("TESTING", "on")
os.environ.setdefault("SANDBOX", "on")

# Under pytest-xdist (`make test-unit` runs several pytest processes, gw0, gw1, ...) each process has
# its own test database (pytest-django suffixes its name) and, set here before the settings read
# it, its own Redis database: kick windows, throttles, caches and the Celery broker queues of its
# system-test workers never meet another process's. Celery workers a test starts inherit
# PYTEST_XDIST_WORKER and the rewritten REDIS_URL, so this is idempotent in them. The top databases
# (15, 14, ...) are each process's spare, for tests that want a broker of their own.
XDIST_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
if XDIST_INDEX >= 8:
    raise RuntimeError("at most 8 pytest-xdist workers: Redis has 16 databases, two per worker")


def redis_db_url(url: str, db: int) -> str:
    """``url`` with its database number replaced by ``db``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("REDIS_URL"):
    _shared = os.environ["REDIS_URL"]
    os.environ["REDIS_URL"] = redis_db_url(_shared, XDIST_INDEX)
    for _name in ("CELERY_BROKER_URL", "RATELIMIT_STORAGE_URL"):
        if os.environ.get(_name) == _shared:
            os.environ[_name] = os.environ["REDIS_URL"]

from config.settings import *  # noqa: E402,F403

# A Redis database only this pytest process uses, for tests that need a broker of their own.
TEST_SPARE_REDIS_DB = 15 - XDIST_INDEX

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
# Off unless a test turns it on (tests/integrations/test_throttling.py): the API fuzzer and the
# system tests send more than a client would.
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "")

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file beside the embedded default's, in WAL mode like it, rather than Django's shared
    # in-memory database, whose table locks fail a concurrent writer at once instead of letting it
    # wait out the busy timeout: concurrency tests (claims, leases) then see what production sees.
    DATABASES["default"]["TEST"] = {"NAME": f"{DATABASES['default']['NAME']}.test"}  # noqa: F405
