"""The WSGI entry point (gunicorn ``config.wsgi:application``).

Once the app is loaded, everything loaded so far (Django, the apps, the URLconf and every view
module it imports) lives as long as the process. ``gc.freeze()`` moves it out of the cyclic
collector's reach: a full collection then scans only what requests allocated since, instead of
the whole heap. Measured under load before this, each gunicorn worker stopped all its threads for
85-128 ms every few seconds (benchmarks/RESULTS.md, Webhooks), which set every endpoint's p99.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 (imports the URLconf and its views now, not on the first request)
gc.collect()  # startup's own garbage first: frozen, it would never be freed
gc.freeze()
