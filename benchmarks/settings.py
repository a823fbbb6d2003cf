"""Settings for `make bench`'s gunicorn: production settings plus the reference views in benchmarks.urls."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
