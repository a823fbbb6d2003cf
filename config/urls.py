from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from integrations import health, oauth_views
from sync.onboarding.files import corrected_file_view
from webhooks.observability.views import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("integrations.api.urls")),
    path("api/v1/", include("sync.api.engine_urls")),
    path("api/v1/", include("sync.api.urls")),
    path("api/v1/", include("webhooks.api.urls")),
    path("webhooks/in/", include("webhooks.inbound.views")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("oauth/callback/<slug:provider>/", oauth_views.oauth_callback, name="oauth-callback"),
    path("files/corrected/<str:token>/", corrected_file_view, name="onboarding-corrected-file"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
]

if settings.SANDBOX:
    urlpatterns.append(path("sandbox/", include("connectors.sandbox.urls")))

handler404 = "integrations.api.errors.handler404"
handler500 = "integrations.api.errors.handler500"
