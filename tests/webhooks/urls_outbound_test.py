"""The outbound API mounted as the lead will mount it (/api/v1/), and the outbound admin pages on an
admin site of their own, so these tests never change the project's admin.site (until the lead's
webhooks/admin.py and webhooks/api/urls.py include them)."""

from django.contrib.admin import AdminSite
from django.urls import include, path

from webhooks.outbound.admin import register

site = AdminSite(name="admin")
register(site)

urlpatterns = [
    path("admin/", site.urls),
    path("api/v1/", include("webhooks.api.urls_outbound")),
]
