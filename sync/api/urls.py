"""Routes for canonical records and the change feed; config/urls.py mounts them under /api/v1/."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from sync.api.views import ActivityViewSet, ChangeFeedView, CompanyViewSet, ContactViewSet, DealViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("contacts", ContactViewSet, basename="contact")
router.register("companies", CompanyViewSet, basename="company")
router.register("deals", DealViewSet, basename="deal")
router.register("activities", ActivityViewSet, basename="activity")

urlpatterns = [
    path("changes/", ChangeFeedView.as_view(), name="change-feed"),
    *router.urls,
]
