from rest_framework.routers import DefaultRouter

from integrations.api.views import IntegrationViewSet, TemplateViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("templates", TemplateViewSet, basename="template")
router.register("integrations", IntegrationViewSet, basename="integration")

urlpatterns = router.urls
