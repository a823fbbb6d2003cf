from webhooks.api.urls_outbound import urlpatterns as outbound_urlpatterns

urlpatterns = [*outbound_urlpatterns]
