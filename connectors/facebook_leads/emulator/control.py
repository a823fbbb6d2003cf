"""The sandbox's own controls: ``connect`` (the config and tokens a finished Facebook Login leaves),
seeding leads (which fires the leadgen webhooks of subscribed Pages), ``_control/lead`` (one lead
with the given answers), ``_control/revoke`` (every user and Page token invalidated, as a password
change does: error 190 subcode 460 from then on), and the demo action ``simulate_lead``
(``_control/demo/simulate_lead``, a button in the admin): someone fills in one of the Page's forms,
and the leadgen webhook goes out as it does for any new lead."""

from __future__ import annotations

import random
import time
import unicodedata
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path

from connectors.base import Tokens
from connectors.facebook_leads.emulator.api import GraphApi
from connectors.facebook_leads.emulator.graph import LONG_LIVED_SECONDS
from connectors.facebook_leads.emulator.store import FIRST_NAMES, FORMS, LAST_NAMES, LEADS
from connectors.sandbox.emulator import json_body, sample_phone
from connectors.sandbox.models import SandboxToken

SANDBOX_VERIFY_TOKEN = "sandbox-verify-token"  # noqa: S105 (the demo's public verify token)
SAMPLE_ANSWERS = ("Birthday cakes", "Wedding catering", "A quote for 50 people", "Weekly bread delivery")


def ascii_name(text: str) -> str:
    """``Chloé`` → ``chloe``: the part of an e-mail address a name gives."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


class GraphControl(GraphApi):
    demo_actions = {"simulate_lead": ("Simulate a Facebook lead", "simulate_lead")}

    def control_urls(self) -> list[URLPattern]:
        return super().control_urls() + [
            path("_control/lead", self._control(self._lead_view)),
            path("_control/revoke", self._control(self._revoke_view)),
        ]

    def connect(self, sandbox_base: str) -> tuple[dict[str, Any], Tokens]:
        """A config for the sandbox app and Page, and the tokens ``accept_tokens`` would store: the
        long-lived user token and the Page's token."""
        page = self.ensure_page()
        app_id, secret = self.client_credentials()
        user = self.issue_user_token(long_lived=True)
        config = {
            "app_id": app_id,
            "app_secret": secret,
            "pageId": page.remote_id,
            "adAccountId": self.setting("ad_account_id", ""),
            "verify_token": SANDBOX_VERIFY_TOKEN,
            "base_url": f"{sandbox_base.rstrip('/')}/facebook_leads",
        }
        tokens = Tokens(
            access_token=user.access_token,
            expires_at=time.time() + LONG_LIVED_SECONDS,
            extra={
                "page_id": page.remote_id,
                "page_access_token": self.page_token(page.remote_id).access_token,
            },
        )
        return config, tokens

    def client_credentials(self) -> tuple[str, str]:
        """Meta app ids are numeric; the sandbox app's secret is the shared sandbox one."""
        configured = self.state().settings
        return configured.get("client_id", "1234567890123"), configured.get(
            "client_secret", "sandbox-client-secret"
        )

    def webhooks_connect(self, target_url: str, *, config: dict[str, Any], secret: str) -> None:
        """The demo's wiring: the app's leadgen subscription points at ``target_url`` (the handshake
        is what the integration's activation would have answered) and the Page is subscribed."""
        state = self.state()
        subscription = {"object": "page", "callback_url": target_url, "fields": ["leadgen"], "active": True}
        state.settings = {**state.settings, "app_subscription": subscription}
        state.save(update_fields=["settings"])
        self.page_subscribe(str(config.get("pageId") or self.page_id()), ["leadgen"])

    def seed(self, object_type: str, count: int, request: HttpRequest | None) -> int:
        if count < 0:
            raise ValueError("count must be positive")
        if object_type in ("lead", "leads"):
            leads = self.seed_leads(count)
            self.notify(leads)
            return len(leads)
        if object_type in ("form", "forms"):
            page = self.ensure_page()
            for n in range(count):
                self.form_add(
                    page.remote_id,
                    f"Sandbox form {self.forms(page.remote_id).count() + 1}",
                    questions=[f"question_{n + 1}"],
                )
            return count
        raise ValueError("facebook_leads emulator can seed 'lead' or 'form'")

    def _lead_view(self, request: HttpRequest) -> HttpResponse:
        """POST ``{"field_data": [...], "form_id"?, "created_time"? (unix), "platform"?, "notify"?}``."""
        body = json_body(request) or {}
        page = self.ensure_page()
        form = (
            self.records(FORMS).filter(remote_id=str(body["form_id"])).first()
            if body.get("form_id")
            else self.forms(page.remote_id).first()
        )
        if form is None or not isinstance(body.get("field_data"), list):
            return JsonResponse(
                {"error": "field_data (a list) and an existing form_id are required"}, status=400
            )
        lead = self.lead_add(
            form,
            body["field_data"],
            created=body.get("created_time"),
            platform=str(body.get("platform", "fb")),
        )
        hook = self.notify([lead]) if body.get("notify", True) else None
        return JsonResponse(
            {
                **self.lead_shape(lead),
                "webhook": {"status_code": hook.status_code, "attempts": hook.attempts} if hook else None,
            }
        )

    def simulate_lead(self) -> dict[str, Any]:
        """A new lead from someone made up, on one of the Page's forms behind its campaign, delivered
        to the app's leadgen subscription like any new lead (signed, retried on a non-200)."""
        pick = random.SystemRandom()
        page = self.ensure_page()
        form = pick.choice(list(self.forms(page.remote_id)))
        first, last = pick.choice(FIRST_NAMES), pick.choice(LAST_NAMES)
        email = f"{ascii_name(first)}.{ascii_name(last)}{pick.randrange(100, 1000)}@example.com"
        field_data = [
            {"name": "email", "values": [email]},
            {"name": "full_name", "values": [f"{first} {last}"]},
            {"name": "phone_number", "values": [sample_phone(pick.randrange(200_000))]},
        ] + [
            {"name": q["key"], "values": [pick.choice(SAMPLE_ANSWERS)]}
            for q in form.data.get("questions", [])
            if q.get("type") == "CUSTOM"
        ]
        lead = self.lead_add(form, field_data)
        hook = self.notify([lead])
        submitted = f"Lead {first} {last} <{email}> submitted on the form “{form.data['name']}”"
        if hook is None:
            outcome = "no leadgen webhook subscription listens: it arrives with the next sync"
        elif hook.status_code is not None and 200 <= hook.status_code < 300:
            outcome = "it arrives through the webhook"
        else:
            outcome = (
                f"the webhook was refused (HTTP {hook.status_code or 'no answer'} after {hook.attempts} "
                "attempts): it arrives with the next sync"
            )
        return {
            "message": f"{submitted}; {outcome}.",
            "lead": self.lead_shape(lead),
            "webhook": {"status_code": hook.status_code, "attempts": hook.attempts} if hook else None,
        }

    def _revoke_view(self, request: HttpRequest) -> HttpResponse:
        revoked = SandboxToken.objects.filter(
            provider=self.provider, kind__in=("user_short", "user_long", "page")
        ).update(revoked=True)
        return JsonResponse({"revoked": revoked})

    def _state_dict(self, state) -> dict[str, Any]:
        return {**super()._state_dict(state), "leads": self.records(LEADS).count()}
