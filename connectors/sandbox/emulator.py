"""What every emulator shares: fault injection, rate limits, tokens, the control surface.

A provider's ``emulator`` package subclasses ``Emulator``, fills in its error bodies, token shape,
seeding and webhook signing, and lists its real API paths in ``api_urls()``. Views are wrapped
with ``Emulator.endpoint`` so every call goes through the same order: injected latency → injected
error/429 → auth → the provider's rate limit → the view, with the provider's headers added.
"""

from __future__ import annotations

import functools
import json
import random
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from limits import RateLimitItemPerSecond

from connectors.ratelimit import _strategy
from connectors.sandbox.models import (
    SandboxAssociation,
    SandboxAuthCode,
    SandboxRecord,
    SandboxState,
    SandboxToken,
    SandboxWebhook,
)

View = Callable[..., HttpResponse]

# The OAuth app every emulator accepts unless a test configures another one.
SANDBOX_CLIENT_ID = "sandbox-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 (a public demo credential)


# US area codes whose 555-xxxx numbers libphonenumber accepts: 200,000 distinct, valid sample phones.
_AREA_CODES = (
    202,
    212,
    213,
    305,
    312,
    415,
    503,
    512,
    617,
    646,
    702,
    713,
    718,
    805,
    917,
    206,
    303,
    404,
    602,
    615,
)


def sample_phone(n: int) -> str:
    """A valid, distinct E.164 number for seeded record ``n``."""
    return f"+1{_AREA_CODES[(n // 10_000) % len(_AREA_CODES)]}555{n % 10_000:04d}"


def now_ms() -> datetime:
    """Now, truncated to the millisecond: the providers show timestamps at no finer precision, so stored and
    shown times compare equal."""
    current = timezone.now()
    return current.replace(microsecond=current.microsecond // 1000 * 1000)


def iso_ms(value: datetime) -> str:
    """A timestamp as the JSON APIs show it: UTC, milliseconds, ``Z``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime | None:
    """An ISO 8601 date-time with a time zone (``Z`` or an offset), or None."""
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else None


def mount_url(request: HttpRequest, markers: Iterable[str]) -> str:
    """The absolute address the emulator is mounted at, as this request reached it: the path up to
    the first of ``markers`` (the segments that follow the mount in every URL the emulator serves)."""
    path = request.path
    cut = min((path.find(m) for m in markers if m in path), default=len(path.rstrip("/")))
    return request.build_absolute_uri(path[:cut])


def json_body(request: HttpRequest) -> Any:
    """The request's JSON body, or None when it is not JSON."""
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


class Emulator:
    """Base of a provider emulator. State lives in the Sandbox* models, keyed by ``provider``."""

    provider: str = ""
    # Where under /sandbox/ it is served; empty: at its registry key (``/sandbox/<key>/``).
    mount_paths: tuple[str, ...] = ()
    # (requests, seconds) enforced per access token; None: no limit.
    rate_limit: tuple[int, int] | None = None
    token_lifetime: timedelta | None = timedelta(hours=1)
    token_prefix = "tok"  # noqa: S105 (a prefix for generated tokens)
    # What `manage.py seed_demo` puts in the emulator: provider object type → count.
    demo_seed: dict[str, int] = {}
    # What a demo can make the provider do, as a button in the admin of a sandbox integration and
    # ``POST _control/demo/<action>``: action name → (button label, name of the method doing it).
    # The method takes no arguments and returns a JSON-able dict whose ``message`` says what
    # happened (what the operator reads).
    demo_actions: dict[str, tuple[str, str]] = {}

    # --- provider specifics: override -----------------------------------------------------

    def error(self, status: int, message: str, *, code: str = "", **extra: Any) -> HttpResponse:
        return JsonResponse({"message": message, "code": code, **extra}, status=status)

    def rate_limited_response(self, *, retry_after: float) -> HttpResponse:
        return self.error(429, "rate limit exceeded")

    def unauthorized(self) -> HttpResponse:
        return self.error(401, "invalid credentials")

    def response_headers(self, request: HttpRequest, token: SandboxToken | None) -> dict[str, str]:
        return {}

    def token_response(self, token: SandboxToken, request: HttpRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"access_token": token.access_token, "token_type": "bearer"}
        if token.refresh_token:
            body["refresh_token"] = token.refresh_token
        if token.expires_at:
            body["expires_in"] = int((token.expires_at - timezone.now()).total_seconds())
        return body

    def seed(self, object_type: str, count: int, request: HttpRequest) -> int:
        raise ValueError(f"{self.provider} emulator cannot seed {object_type!r}")

    def fire_webhooks(self, request: HttpRequest, target_url: str, payload: Any) -> SandboxWebhook:
        raise ValueError(f"{self.provider} emulator sends no webhooks")

    def webhooks_connect(self, target_url: str, *, config: dict[str, Any], secret: str) -> None:  # noqa: B027
        """Point the emulator's webhooks for the account ``config`` names at ``target_url``, signed
        as the integration expects (``secret``: the integration's own); how the demo wires them.
        Emulators whose webhooks are registered through their API (or not at all) do nothing."""

    def api_urls(self) -> list[URLPattern]:
        return []

    def demo_action(self, action: str) -> dict[str, Any]:
        """Run one of ``demo_actions``; ValueError for an action this emulator does not offer."""
        if action not in self.demo_actions:
            offered = ", ".join(self.demo_actions) or "none"
            raise ValueError(f"{self.provider} emulator has no demo action {action!r} (offered: {offered})")
        return getattr(self, self.demo_actions[action][1])()

    # --- state ------------------------------------------------------------------------------

    def state(self) -> SandboxState:
        return SandboxState.objects.get_or_create(provider=self.provider)[0]

    def setting(self, name: str, default: Any) -> Any:
        return self.state().settings.get(name, default)

    def client_credentials(self) -> tuple[str, str]:
        configured = self.state().settings  # the emulator's own settings, not Django's
        return (
            configured.get("client_id", SANDBOX_CLIENT_ID),
            configured.get("client_secret", SANDBOX_CLIENT_SECRET),
        )

    def reset(self) -> None:
        with transaction.atomic():
            SandboxRecord.objects.filter(provider=self.provider).delete()
            SandboxAssociation.objects.filter(provider=self.provider).delete()
            SandboxToken.objects.filter(provider=self.provider).delete()
            SandboxAuthCode.objects.filter(provider=self.provider).delete()
            SandboxWebhook.objects.filter(provider=self.provider).delete()
            SandboxState.objects.filter(provider=self.provider).delete()
        if self.rate_limit:
            _strategy_for_sandbox().storage.reset()

    def records(self, object_type: str):
        return SandboxRecord.objects.filter(provider=self.provider, object_type=object_type)

    # --- tokens -------------------------------------------------------------------------------

    def issue_token(
        self,
        *,
        kind: str = "oauth",
        client_id: str = "",
        scopes: Iterable[str] = (),
        data: dict[str, Any] | None = None,
        refresh: bool = True,
    ) -> SandboxToken:
        lifetime = self.token_lifetime if kind == "oauth" else None
        return SandboxToken.objects.create(
            provider=self.provider,
            access_token=f"{self.token_prefix}-{secrets.token_urlsafe(24)}",
            refresh_token=f"rt-{secrets.token_urlsafe(24)}" if refresh else "",
            kind=kind,
            client_id=client_id,
            scopes=list(scopes),
            data=data or {},
            expires_at=timezone.now() + lifetime if lifetime else None,
        )

    def bearer_token(self, request: HttpRequest) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""

    def authenticate(self, request: HttpRequest) -> SandboxToken | None:
        value = self.bearer_token(request)
        if not value:
            return None
        token = SandboxToken.objects.filter(provider=self.provider, access_token=value, revoked=False).first()
        if token is None or (token.expires_at and token.expires_at <= timezone.now()):
            return None
        return token

    # --- the request pipeline -----------------------------------------------------------------

    def endpoint(
        self,
        view: View | None = None,
        *,
        auth: bool = True,
        limited: bool = True,
        rate: tuple[int, int] | None = None,
    ) -> Any:
        """Wrap an API view: faults, auth, rate limit, provider headers. Usable bare or with args."""
        if view is None:
            return functools.partial(self.endpoint, auth=auth, limited=limited, rate=rate)

        @csrf_exempt
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            injected = self.injected_fault()
            if injected is not None:
                return injected
            after_write = self.rule_fault(request)
            if after_write is not None and not after_write[1]:
                return self.error(after_write[0], "injected failure")
            token = None
            if auth:
                token = self.authenticate(request)
                if token is None:
                    return self.unauthorized()
            if limited:
                blocked = self.check_rate(token, rate or self.rate_limit, scope=view.__name__ if rate else "")
                if blocked is not None:
                    for name, value in self.response_headers(request, token).items():
                        blocked.setdefault(name, value)
                    return blocked
            request.sandbox_token = token  # type: ignore[attr-defined]
            response = view(request, *args, **kwargs)
            if after_write is not None:  # the write happened; the caller never hears of it
                return self.error(after_write[0], "injected failure after the write")
            if self.chaos_roll("truncate_rate") and response.status_code < 300:
                # The work is done, the answer is cut short (a connection dropped mid-body).
                response.content = response.content[: max(1, len(response.content) // 2)]
            for name, value in self.response_headers(request, token).items():
                response.setdefault(name, value)
            return response

        return wrapped

    # --- chaos: random faults at set rates (the chaos suite, tests/chaos) -----------------------
    # ``_control/faults`` with {"chaos": {...}}: ``error_rate`` (a 5xx, followed by a burst of
    # ``burst_after_error`` 429s when set), ``ratelimit_rate`` (a burst of ``ratelimit_burst``
    # 429s), ``stall_rate`` (``stall_ms`` before answering), ``truncate_rate`` (a successful
    # answer's body cut in half, after the work is done). Rates are fractions of requests.

    _chaos_random = random.Random()  # noqa: S311 (fault injection, not crypto)

    def chaos_roll(self, name: str) -> bool:
        chaos = self.state().settings.get("chaos") or {}
        rate = float(chaos.get(name, 0) or 0)
        return rate > 0 and self._chaos_random.random() < rate

    def chaos_fault(self, state: SandboxState) -> HttpResponse | None:
        chaos = state.settings.get("chaos") or {}
        if not chaos:
            return None
        if self.chaos_roll("stall_rate"):
            time.sleep(int(chaos.get("stall_ms", 2000)) / 1000)
        if self.chaos_roll("ratelimit_rate"):
            burst = max(1, int(chaos.get("ratelimit_burst", 3)))
            SandboxState.objects.filter(pk=state.pk).update(ratelimit_count=F("ratelimit_count") + burst - 1)
            return self.rate_limited_response(retry_after=1)
        if self.chaos_roll("error_rate"):
            burst = int(chaos.get("burst_after_error", 0))
            if burst:
                SandboxState.objects.filter(pk=state.pk).update(ratelimit_count=F("ratelimit_count") + burst)
            return self.error(int(chaos.get("error_status", 503)), "injected chaos failure")
        return None

    def injected_fault(self) -> HttpResponse | None:
        state = self.state()
        SandboxState.objects.filter(pk=state.pk).update(requests=F("requests") + 1)
        if state.latency_ms:
            time.sleep(state.latency_ms / 1000)
        if state.ratelimit_count and SandboxState.objects.filter(pk=state.pk, ratelimit_count__gt=0).update(
            ratelimit_count=F("ratelimit_count") - 1
        ):
            return self.rate_limited_response(retry_after=1)
        if state.fail_count and SandboxState.objects.filter(pk=state.pk, fail_count__gt=0).update(
            fail_count=F("fail_count") - 1
        ):
            return self.error(state.fail_status or 503, "injected failure")
        return self.chaos_fault(state)

    def rule_fault(self, request: HttpRequest) -> tuple[int, bool] | None:
        """The ``fault_rule`` set through ``_control/faults``: of the requests whose path contains
        ``path_contains``, let ``skip`` through, then fail ``count`` with ``status`` (after doing
        the work when ``after_write``, as a proxy timing out on a slow write does).
        Returns (status, after_write) for a request to fail, or None."""
        if not self.state().settings.get("fault_rule"):
            return None
        with transaction.atomic():
            state = SandboxState.objects.select_for_update().get(provider=self.provider)
            rule = dict(state.settings.get("fault_rule") or {})
            if (
                not rule
                or str(rule.get("path_contains", "")) not in request.path
                or rule.get("count", 0) <= 0
            ):
                return None
            if rule.get("skip", 0) > 0:
                rule["skip"] -= 1
                failing = None
            else:
                rule["count"] -= 1
                failing = (int(rule.get("status", 503)), bool(rule.get("after_write")))
            state.settings = {**state.settings, "fault_rule": rule}
            state.save(update_fields=["settings"])
        return failing

    def check_rate(
        self, token: SandboxToken | None, rate: tuple[int, int] | None, *, scope: str = ""
    ) -> HttpResponse | None:
        if rate is None or not self.state().rate_limit_enabled:
            return None
        amount, seconds = rate
        item = RateLimitItemPerSecond(amount, seconds)
        strategy = _strategy_for_sandbox()
        who = token.access_token if token else "anonymous"
        if strategy.hit(item, "sandbox", self.provider, scope, who):
            return None
        stats = strategy.get_window_stats(item, "sandbox", self.provider, scope, who)
        return self.rate_limited_response(retry_after=max(0.0, stats.reset_time - time.time()))

    # --- webhooks -------------------------------------------------------------------------------

    def deliver(
        self, target_url: str, body: bytes, headers: dict[str, str], *, attempts: int = 3
    ) -> SandboxWebhook:
        """POST a signed webhook, retrying non-2xx answers like the provider does (short waits)."""
        hook = SandboxWebhook.objects.create(
            provider=self.provider, target_url=target_url, headers=headers, body=body.decode()
        )
        status = None
        for attempt in range(1, attempts + 1):
            try:
                resp = requests.post(target_url, data=body, headers=headers, timeout=10)
                status = resp.status_code
            except requests.RequestException:
                status = None
            hook.attempts, hook.status_code = attempt, status
            if status is not None and 200 <= status < 300:
                break
            time.sleep(min(0.2 * 2**attempt, 2))
        hook.save(update_fields=["attempts", "status_code"])
        return hook

    # --- control surface ----------------------------------------------------------------------

    def control_urls(self) -> list[URLPattern]:
        return [
            path("_control/reset", self._control(self._reset_view)),
            path("_control/seed", self._control(self._seed_view)),
            path("_control/faults", self._control(self._faults_view)),
            path("_control/settings", self._control(self._settings_view)),
            path("_control/token", self._control(self._token_view)),
            path("_control/webhooks", self._control(self._webhooks_view)),
            path("_control/state", self._control(self._state_view)),
            path("_control/demo/<slug:action>", self._control(self._demo_view)),
        ]

    def urls(self) -> list[URLPattern]:
        return self.control_urls() + self.api_urls()

    def _control(self, view: View) -> View:
        return csrf_exempt(view)

    def _reset_view(self, request: HttpRequest) -> HttpResponse:
        self.reset()
        return JsonResponse({"reset": True})

    def _seed_view(self, request: HttpRequest) -> HttpResponse:
        body = json_body(request) or {}
        try:
            count = self.seed(str(body.get("object", "")), int(body.get("count", 10)), request)
        except (TypeError, ValueError) as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        return JsonResponse({"seeded": count})

    def _faults_view(self, request: HttpRequest) -> HttpResponse:
        body = json_body(request) or {}
        state = self.state()
        for name in ("latency_ms", "fail_status", "fail_count", "ratelimit_count"):
            if name in body:
                setattr(state, name, int(body[name]))
        if "rate_limit" in body:
            state.rate_limit_enabled = bool(body["rate_limit"])
        if "rule" in body:  # see rule_fault
            state.settings = {**state.settings, "fault_rule": body["rule"] or {}}
        if "chaos" in body:  # see chaos_fault
            state.settings = {**state.settings, "chaos": body["chaos"] or {}}
        state.save()
        return JsonResponse(self._state_dict(state))

    def _settings_view(self, request: HttpRequest) -> HttpResponse:
        body = json_body(request) or {}
        state = self.state()
        state.settings = {**state.settings, **body}
        state.save(update_fields=["settings"])
        return JsonResponse(state.settings)

    def _token_view(self, request: HttpRequest) -> HttpResponse:
        body = json_body(request) or {}
        token = self.issue_token(
            kind=body.get("kind", "oauth"),
            client_id=self.client_credentials()[0],
            data=self.token_data(request),
        )
        return JsonResponse(self.token_response(token, request))

    def token_data(self, request: HttpRequest) -> dict[str, Any]:
        """Provider data attached to every token (Salesforce's instance_url, HubSpot's hub_id)."""
        return {}

    def _webhooks_view(self, request: HttpRequest) -> HttpResponse:
        body = json_body(request) or {}
        target = body.get("target_url")
        if not target:
            return JsonResponse({"error": "target_url is required"}, status=400)
        try:
            hook = self.fire_webhooks(request, target, body.get("events"))
        except ValueError as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        return JsonResponse(
            {
                "id": hook.pk,
                "status_code": hook.status_code,
                "attempts": hook.attempts,
                "body": hook.body,
                "headers": hook.headers,
            }
        )

    def _demo_view(self, request: HttpRequest, action: str) -> HttpResponse:
        if request.method != "POST":
            return JsonResponse({"error": "POST to run a demo action"}, status=405)
        if action not in self.demo_actions:
            offered = ", ".join(self.demo_actions) or "none"
            return JsonResponse({"error": f"no demo action {action!r} (offered: {offered})"}, status=404)
        try:
            result = self.demo_action(action)
        except ValueError as exc:  # the action cannot run in this state
            return JsonResponse({"error": str(exc)}, status=400)
        return JsonResponse({"action": action, **result})

    def _state_view(self, request: HttpRequest) -> HttpResponse:
        return JsonResponse(self._state_dict(self.state()))

    def _state_dict(self, state: SandboxState) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for row in SandboxRecord.objects.filter(provider=self.provider).values_list(
            "object_type", "archived"
        ):
            key = f"{row[0]}{' (archived)' if row[1] else ''}"
            counts[key] = counts.get(key, 0) + 1
        return {
            "provider": self.provider,
            "latency_ms": state.latency_ms,
            "fail_status": state.fail_status,
            "fail_count": state.fail_count,
            "ratelimit_count": state.ratelimit_count,
            "rate_limit": state.rate_limit_enabled,
            "requests": state.requests,
            "records": counts,
            "settings": state.settings,
        }


def _strategy_for_sandbox():
    return _strategy(settings.RATELIMIT_STORAGE_URL)
