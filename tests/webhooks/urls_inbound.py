"""Test-only urlconf: the project's URLs plus the inbound receiver and its admin pages.

Until the lead's webhooks/urls.py and webhooks/admin.py include them, tests mount them here.
"""

from django.contrib import admin
from django.urls import include, path

import webhooks.inbound.admin  # noqa: F401 (registers the inbound admin pages before admin.site.urls is read)
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("webhooks/in/", include("webhooks.inbound.views")),
    path("admin/", admin.site.urls),
    *project_urlpatterns,
]
