"""The WSGI entry point leaves a loaded process with its long-lived objects out of the collector's
reach (config/wsgi.py says why): a full collection then scans what requests allocate, not the app."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, sys
import config.wsgi
print(gc.get_freeze_count(), "webhooks.inbound.views" in sys.modules)
"""


def test_loading_the_app_imports_the_views_and_freezes_what_it_loaded():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    frozen, views_loaded = int(out[0]), out[1] == "True"
    assert views_loaded  # the URLconf was imported before the freeze, not on the first request
    assert frozen > 50_000  # Django, the apps and their modules: the whole startup heap
