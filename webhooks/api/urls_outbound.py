"""``webhook-endpoints/`` and ``webhook-messages/``; included under /api/v1/."""

from rest_framework.routers import DefaultRouter

from webhooks.api.views_outbound import EndpointViewSet, MessageViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("webhook-endpoints", EndpointViewSet, basename="webhook-endpoint")
router.register("webhook-messages", MessageViewSet, basename="webhook-message")

urlpatterns = router.urls
