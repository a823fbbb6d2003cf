"""The Graph endpoints: token exchange, ``/me``, ``/me/accounts``, Page/form/lead nodes,
``/{page-id}/leadgen_forms``, ``/{form-id}/leads``, ``/{page-id}/subscribed_apps`` and the app's
``/{app-id}/subscriptions``. Every path is served under ``/{version}/`` (``v23.0``) as Graph does."""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.urls import Resolver404, resolve
from django.utils import timezone

from connectors.facebook_leads.emulator.graph import LONG_LIVED_SECONDS
from connectors.facebook_leads.emulator.hooks import LeadgenHooks
from connectors.facebook_leads.emulator.insights import InsightsApi
from connectors.facebook_leads.emulator.store import (
    FORM_DEFAULT_FIELDS,
    FORMS,
    LEAD_DEFAULT_FIELDS,
    LEADS,
    PAGES,
    only,
    requested_fields,
)
from connectors.sandbox.models import SandboxAuthCode, SandboxToken


def params(request: HttpRequest) -> Any:
    """Graph reads parameters from the query string and from a POST's form alike."""
    merged = request.GET.copy()
    if request.method in ("POST", "DELETE"):
        merged.update(request.POST)
    return merged


BATCH_LIMIT = 50
VERSIONED = re.compile(r"^v\d+\.\d+/")


def fields_list(raw: str) -> list[str]:
    """``subscribed_fields``: ``leadgen`` / ``leadgen,feed`` / ``["leadgen"]`` (the SDK's JSON)."""
    return [part.strip(' "[]') for part in raw.split(",") if part.strip(' "[]')]


class GraphApi(LeadgenHooks, InsightsApi):
    # --- OAuth ----------------------------------------------------------------------------------

    def authorize_view(self, request: HttpRequest, version: str) -> HttpResponse:
        """``www.facebook.com/{ver}/dialog/oauth``: the sandbox user approves at once."""
        client_id, redirect_uri = request.GET.get("client_id", ""), request.GET.get("redirect_uri", "")
        if not redirect_uri or client_id != self.client_credentials()[0]:
            return HttpResponse("<p>Invalid App ID or missing redirect_uri.</p>", status=400)
        code = SandboxAuthCode.objects.create(
            provider=self.provider,
            code=secrets.token_urlsafe(32),
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=[s for s in request.GET.get("scope", "").replace(" ", ",").split(",") if s],
            expires_at=timezone.now() + timedelta(minutes=10),
        )
        query = {"code": code.code, "state": request.GET.get("state", "")}
        return HttpResponseRedirect(f"{redirect_uri}?{urlencode(query)}#_=_")

    def access_token_view(self, request: HttpRequest, version: str) -> HttpResponse:
        """``/oauth/access_token``: a code for a short-lived user token, ``fb_exchange_token`` for a
        long-lived one, ``client_credentials`` for the app token."""
        p = params(request)
        if (p.get("client_id"), p.get("client_secret")) != self.client_credentials():
            return self.graph_error("Error validating client secret.", code=1, subcode=None)
        grant = p.get("grant_type", "")
        if grant == "fb_exchange_token":
            short = SandboxToken.objects.filter(
                provider=self.provider, access_token=p.get("fb_exchange_token", ""), revoked=False
            ).first()
            if short is None or short.kind not in ("user_short", "user_long") or self._expired(short):
                return self.graph_error(
                    "Error validating access token: Session has expired.", code=190, subcode=463
                )
            token = self.issue_user_token(long_lived=True)
            return JsonResponse(
                {"access_token": token.access_token, "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS}
            )
        if grant == "client_credentials":
            app_id, secret = self.client_credentials()
            return JsonResponse({"access_token": f"{app_id}|{secret}", "token_type": "bearer"})
        code = SandboxAuthCode.objects.filter(
            provider=self.provider, code=p.get("code", ""), used=False
        ).first()
        if code is None or code.expires_at <= timezone.now() or code.redirect_uri != p.get("redirect_uri"):
            return self.graph_error(
                "This authorization code has been used.", code=100, subcode=36009, kind="OAuthException"
            )
        code.used = True
        code.save(update_fields=["used"])
        token = self.issue_user_token(long_lived=False)
        expires_in = int((token.expires_at - timezone.now()).total_seconds())
        return JsonResponse(
            {"access_token": token.access_token, "token_type": "bearer", "expires_in": expires_in}
        )

    def _expired(self, token: SandboxToken) -> bool:
        return bool(token.expires_at and token.expires_at <= timezone.now())

    # --- the user -------------------------------------------------------------------------------

    def me_view(self, request: HttpRequest, version: str) -> HttpResponse:
        token = request.sandbox_token
        if token.kind == "page":
            page = self.record(PAGES, self.token_page(token))
            return JsonResponse({"id": page.remote_id, "name": page.data["name"]})
        if token.kind == "app":
            return JsonResponse({"id": self.client_credentials()[0], "name": "Sandbox App"})
        return JsonResponse(
            only({"id": "100000000000001", "name": "Sandbox User"}, requested_fields(request, ("id", "name")))
        )

    def accounts_view(self, request: HttpRequest, version: str) -> HttpResponse:
        """``/me/accounts``: the user's Pages with their (non-expiring) Page tokens."""
        if request.sandbox_token.kind not in ("user_short", "user_long"):
            return self.graph_error("(#100) Tried accessing nonexisting field (accounts)", code=100)
        self.ensure_page()
        pages = [
            {
                "access_token": self.page_token(page.remote_id).access_token,
                "category": page.data["category"],
                "name": page.data["name"],
                "id": page.remote_id,
                "tasks": page.data["tasks"],
            }
            for page in self.records(PAGES).order_by("pk")
        ]
        body = self.page_of(request, pages)
        return self.bad_parameter(body) if isinstance(body, str) else JsonResponse(body)

    # --- nodes ----------------------------------------------------------------------------------

    def node_view(self, request: HttpRequest, version: str, object_id: str) -> HttpResponse:
        lead = self.record(LEADS, object_id)
        if lead is not None:
            if not self.may_read(request, lead.data["page_id"]):
                return self.permission_denied()
            return JsonResponse(only(self.lead_shape(lead), requested_fields(request, LEAD_DEFAULT_FIELDS)))
        form = self.record(FORMS, object_id)
        if form is not None:
            return JsonResponse(only(self.form_shape(form), requested_fields(request, FORM_DEFAULT_FIELDS)))
        page = self.record(PAGES, object_id)
        if page is not None:
            shape = {"id": page.remote_id, "name": page.data["name"], "category": page.data["category"]}
            return JsonResponse(only(shape, requested_fields(request, ("id", "name"))))
        return self.not_found(object_id)

    def may_read(self, request: HttpRequest, page_id: str) -> bool:
        """Leads are read with that Page's token (or the app's); user tokens get error 200."""
        token = request.sandbox_token
        return token.kind == "app" or self.token_page(token) == page_id

    def permission_denied(self) -> JsonResponse:
        return self.graph_error(
            "(#200) Requires pages_manage_ads and leads_retrieval permission, and a Page access token",
            code=200,
        )

    def form_shape(self, form) -> dict[str, Any]:
        return {
            "id": form.remote_id,
            "name": form.data["name"],
            "status": form.data["status"],
            "locale": form.data["locale"],
            "questions": form.data["questions"],
            "leads_count": self.records(LEADS).filter(data__form_id=form.remote_id).count(),
        }

    # --- edges ----------------------------------------------------------------------------------

    def leadgen_forms_view(self, request: HttpRequest, version: str, page_id: str) -> HttpResponse:
        if self.record(PAGES, page_id) is None:
            return self.not_found(page_id)
        if not self.may_read(request, page_id):
            return self.permission_denied()
        fields = requested_fields(request, FORM_DEFAULT_FIELDS)
        body = self.page_of(request, [only(self.form_shape(f), fields) for f in self.forms(page_id)])
        return self.bad_parameter(body) if isinstance(body, str) else JsonResponse(body)

    def leads_view(self, request: HttpRequest, version: str, form_id: str) -> HttpResponse:
        form = self.record(FORMS, form_id)
        if form is None:
            return self.not_found(form_id)
        if not self.may_read(request, form.data["page_id"]):
            return self.permission_denied()
        rules = self.parse_filtering(request.GET.get("filtering", ""))
        if isinstance(rules, str):
            return self.bad_parameter(rules)
        leads = [
            lead
            for lead in self.records(LEADS).filter(data__form_id=form_id).order_by("-created_at", "-pk")
            if self.lead_matches(lead, rules)
        ]
        fields = requested_fields(request, LEAD_DEFAULT_FIELDS)
        body = self.page_of(request, [only(self.lead_shape(lead), fields) for lead in leads])
        return self.bad_parameter(body) if isinstance(body, str) else JsonResponse(body)

    def subscribed_apps_view(self, request: HttpRequest, version: str, page_id: str) -> HttpResponse:
        """GET lists, POST subscribes (``subscribed_fields``), DELETE removes; Page token only."""
        if self.record(PAGES, page_id) is None:
            return self.not_found(page_id)
        if self.token_page(request.sandbox_token) != page_id:
            return self.graph_error(
                "(#210) A page access token is required to request this resource.", code=210
            )
        if request.method == "POST":
            fields = fields_list(params(request).get("subscribed_fields", ""))
            if not fields:
                return self.bad_parameter("The parameter subscribed_fields is required.")
            self.page_subscribe(page_id, fields)
            return JsonResponse({"success": True})
        if request.method == "DELETE":
            self.page_unsubscribe(page_id)
            return JsonResponse({"success": True})
        fields = self.page_subscriptions().get(page_id)
        app_id = self.client_credentials()[0]
        data = [{"id": app_id, "name": "Sandbox App", "subscribed_fields": fields}] if fields else []
        return JsonResponse({"data": data})

    def subscriptions_view(self, request: HttpRequest, version: str, app_id: str) -> HttpResponse:
        """The app's webhook subscriptions (app token): POST runs the handshake first."""
        if app_id != self.client_credentials()[0] or request.sandbox_token.kind != "app":
            return self.graph_error("(#15) This method must be called with an app access_token.", code=15)
        if request.method == "POST":
            p = params(request)
            fields = fields_list(p.get("fields", ""))
            if p.get("object") != "page" or not p.get("callback_url") or not fields:
                return self.bad_parameter("object=page, callback_url and fields are required")
            accepted, problem = self.app_subscribe(p["callback_url"], p.get("verify_token", ""), fields)
            if not accepted:
                return self.graph_error(f"(#2200) callback verification failed: {problem}", code=2200)
            return JsonResponse({"success": True})
        if request.method == "DELETE":
            state = self.state()
            state.settings = {k: v for k, v in state.settings.items() if k != "app_subscription"}
            state.save(update_fields=["settings"])
            return JsonResponse({"success": True})
        subscription = self.setting("app_subscription", None)
        return JsonResponse({"data": [subscription] if subscription else []})

    # --- batch requests -------------------------------------------------------------------------

    def batch_view(self, request: HttpRequest, version: str = "") -> HttpResponse:
        """``POST /?batch=[{"method":"GET","relative_url":"<id>?fields=…"}, …]`` (at most 50): one
        answer per request, ``{"code", "headers", "body"}`` with the body as a JSON string."""
        if request.method != "POST":
            return self.bad_parameter("Unsupported get request.")
        try:
            batch = json.loads(params(request).get("batch", ""))
        except ValueError:
            batch = None
        if not isinstance(batch, list) or not batch:
            return self.bad_parameter("The parameter batch is required and must be a JSON array")
        if len(batch) > BATCH_LIMIT:
            return self.bad_parameter(
                f"Too many requests in batch message. Maximum batch size is {BATCH_LIMIT}"
            )
        answers = [self.batch_answer(request, item, version or "v23.0") for item in batch]
        return JsonResponse(answers, safe=False)

    def batch_answer(self, outer: HttpRequest, item: Any, version: str) -> dict[str, Any]:
        """One request of a batch, run through the emulator's own views with the batch's token."""
        method = str(item.get("method", "GET")).upper() if isinstance(item, dict) else ""
        relative = str(item.get("relative_url", "")).lstrip("/") if isinstance(item, dict) else ""
        path, _, query = relative.partition("?")
        if method != "GET" or not path:
            return self.batch_error("(#100) The sandbox batches GET requests with a relative_url")
        mount = outer.path[: outer.path.find(f"{version}/")] if f"{version}/" in outer.path else outer.path
        full = mount + (path if VERSIONED.match(path) else f"{version}/{path}")
        try:
            match = resolve(full)
        except Resolver404:
            return self.batch_error(f"(#100) Unknown path components: /{path}")
        sub = HttpRequest()
        sub.method, sub.path, sub.path_info = "GET", full, full
        sub.META = {**outer.META, "REQUEST_METHOD": "GET", "QUERY_STRING": query}
        sub.GET = QueryDict(query, mutable=True)
        sub.GET.setdefault("access_token", self.token_value(outer))
        response = match.func(sub, *match.args, **match.kwargs)
        return {
            "code": response.status_code,
            "headers": [{"name": name, "value": value} for name, value in response.items()],
            "body": response.content.decode(),
        }

    def batch_error(self, message: str) -> dict[str, Any]:
        response = self.graph_error(message, code=100)
        return {"code": 400, "headers": [], "body": response.content.decode()}
