"""Routes for canonical records and the change feed, for enrichment, scoring and automation, and for
the onboarding flow's tracking;
config/urls.py mounts them under /api/v1/."""

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from sync.api.booking_views import ContactAppointmentsView, ContactSlotsView
from sync.api.enrichment_views import (
    AutomationView,
    CompanyScoreHistoryView,
    ContactScoreHistoryView,
    EnrichmentSyncView,
    NextActionRuleViewSet,
    OwnerRuleViewSet,
    PriorityQueueView,
)
from sync.api.messaging_views import ContactConversationsRefreshView, ContactMessagesView
from sync.api.onboarding_views import ManualSyncView, TrackingListView, TrackingRetryView
from sync.api.views import RECORD_VIEWSETS, ChangeFeedView

# The records routes: one per entity of the registry (sync.entities.ENTITIES).
RECORD_ROUTES = {
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
    "activity": "activities",
    "conversation": "conversations",
}

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
for entity, viewset in RECORD_VIEWSETS.items():
    router.register(RECORD_ROUTES[entity], viewset, basename=entity)
router.register("next-action-rules", NextActionRuleViewSet, basename="next-action-rule")
router.register("owner-rules", OwnerRuleViewSet, basename="owner-rule")

urlpatterns = [
    path("changes/", ChangeFeedView.as_view(), name="change-feed"),
    path("automation/", AutomationView.as_view(), name="automation"),
    path("enrichment/sync", EnrichmentSyncView.as_view(), name="enrichment-sync"),
    path("priority-queue/", PriorityQueueView.as_view(), name="priority-queue"),
    path("onboarding/tracking/", TrackingListView.as_view(), name="onboarding-tracking"),
    re_path(
        r"^onboarding/tracking/(?P<pk>[0-9]{1,18})/retry/$",
        TrackingRetryView.as_view(),
        name="onboarding-tracking-retry",
    ),
    path("onboarding/sync", ManualSyncView.as_view(), name="onboarding-sync"),
    re_path(
        r"^contacts/(?P<pk>[0-9]{1,18})/score-history/$",
        ContactScoreHistoryView.as_view(),
        name="contact-score-history",
    ),
    re_path(
        r"^contacts/(?P<pk>[0-9]{1,18})/messages/$", ContactMessagesView.as_view(), name="contact-messages"
    ),
    re_path(r"^contacts/(?P<pk>[0-9]{1,18})/slots/$", ContactSlotsView.as_view(), name="contact-slots"),
    re_path(
        r"^contacts/(?P<pk>[0-9]{1,18})/appointments/$",
        ContactAppointmentsView.as_view(),
        name="contact-appointments",
    ),
    re_path(
        r"^contacts/(?P<pk>[0-9]{1,18})/conversations/refresh/$",
        ContactConversationsRefreshView.as_view(),
        name="contact-conversations-refresh",
    ),
    re_path(
        r"^companies/(?P<pk>[0-9]{1,18})/score-history/$",
        CompanyScoreHistoryView.as_view(),
        name="company-score-history",
    ),
    *router.urls,
]
