"""The platform's admin site: Django's, whose home page is the operations dashboard
(webhooks/dashboard). Installed as the default site by ``config.apps.PlatformAdminConfig``, so
``admin.site`` everywhere is this one."""

from django.contrib import admin

from webhooks.dashboard_views import dashboard_context


class PlatformAdminSite(admin.AdminSite):
    index_template = "admin/index.html"

    def index(self, request, extra_context=None):
        """The app list as Django builds it, with the dashboard above it."""
        return super().index(request, {**dashboard_context(request), **(extra_context or {})})
