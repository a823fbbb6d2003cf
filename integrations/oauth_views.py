"""``/oauth/callback/<provider>/``: finish an authorization started by the wizard or the API."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from integrations.services import OAuthFlowError, oauth_complete


@require_GET
def oauth_callback(request: HttpRequest, provider: str) -> HttpResponse:
    try:
        outcome = oauth_complete(
            provider=provider,
            state=request.GET.get("state", ""),
            code=request.GET.get("code", ""),
            error=request.GET.get("error", ""),
            callback=request.GET.dict(),
        )
    except OAuthFlowError as exc:
        return render(request, "oauth/error.html", {"message": str(exc), "provider": provider}, status=400)
    target = outcome.return_to
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return HttpResponseRedirect(target)
    return render(request, "oauth/done.html", {"integration": outcome.integration})
