"""The platform's admin site: Django's, whose home page is the operations dashboard
(webhooks/dashboard). Installed as the default site by ``config.apps.PlatformAdminConfig``, so
``admin.site`` everywhere is this one."""

from django.contrib import admin
from django.urls import path

from webhooks.dashboard_views import dashboard_context
from webhooks.observability.views import system_health_view


class PlatformAdminSite(admin.AdminSite):
    index_template = "admin/index.html"

    def index(self, request, extra_context=None):
        """The app list as Django builds it, with the dashboard above it."""
        return super().index(request, {**dashboard_context(request), **(extra_context or {})})

    def get_urls(self):
        """Django's admin URLs plus the system health page (superusers only, checked by the view)."""
        page = path("system-health/", self.admin_view(system_health_view), name="system_health")
        return [page, *super().get_urls()]
