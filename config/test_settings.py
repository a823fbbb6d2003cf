"""Settings for pytest: the sandbox on, fast hashing, everything else as in production."""

import os

os.environ.setdefault("TESTING", "on")
os.environ.setdefault("SANDBOX", "on")

from config.settings import *  # noqa: E402,F403

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
