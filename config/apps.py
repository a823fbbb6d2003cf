from django.contrib.admin.apps import AdminConfig


class PlatformAdminConfig(AdminConfig):
    """django.contrib.admin with the platform's site (the dashboard as its home page)."""

    default_site = "config.admin_site.PlatformAdminSite"
