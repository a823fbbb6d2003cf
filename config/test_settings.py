"""Settings for pytest: the sandbox on, fast hashing, everything else as in production."""

import os

os.environ.setdefault("TESTING", "on")
os.environ.setdefault("SANDBOX", "on")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
