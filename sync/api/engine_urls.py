from django.urls import path
from rest_framework.routers import DefaultRouter

from sync.api.engine_views import (
    ConflictViewSet,
    IntegrationFieldsRefreshView,
    IntegrationFieldsView,
    IntegrationMappingsView,
    IntegrationOwnersView,
    IntegrationStatusView,
    IntegrationSyncView,
    SyncRunViewSet,
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("sync-runs", SyncRunViewSet, basename="sync-run")
router.register("conflicts", ConflictViewSet, basename="conflict")

urlpatterns = [
    path("integrations/<int:pk>/status/", IntegrationStatusView.as_view(), name="integration-status"),
    path("integrations/<int:pk>/sync/", IntegrationSyncView.as_view(), name="integration-sync"),
    path("integrations/<int:pk>/mappings/", IntegrationMappingsView.as_view(), name="integration-mappings"),
    path("integrations/<int:pk>/fields/", IntegrationFieldsView.as_view(), name="integration-fields"),
    path("integrations/<int:pk>/owners/", IntegrationOwnersView.as_view(), name="integration-owners"),
    path(
        "integrations/<int:pk>/fields/refresh/",
        IntegrationFieldsRefreshView.as_view(),
        name="integration-fields-refresh",
    ),
    *router.urls,
]
