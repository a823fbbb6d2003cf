"""The admin's log-in form, rate-limited: after ``ADMIN_LOGIN_FAILURES`` failed attempts (``"5 per
15 minutes"`` by default) for one username, or four times that from one address, further attempts
are refused without checking the password until the window has moved on.

Failures are counted by the ``limits`` library's moving window on the shared rate-limit storage, so
every web process sees the same count; a successful log-in clears its username's count. If the
storage is unreachable the form works as Django's does (logged): an outage of ours must not lock
operators out.
"""

from __future__ import annotations

import logging
import math
import time
from functools import cache

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from limits import RateLimitItem, parse

from connectors.ratelimit import moving_window
from integrations.request_address import client_address

logger = logging.getLogger(__name__)

# From one address many usernames may be tried: that budget is this many times one username's.
PER_ADDRESS_FACTOR = 4


@cache
def _limits(rate: str) -> tuple[RateLimitItem, RateLimitItem]:
    per_user = parse(rate)
    per_address = type(per_user)(per_user.amount * PER_ADDRESS_FACTOR, per_user.multiples)
    return per_user, per_address


class RateLimitedAuthenticationForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many failed log-ins for this account or from this address. Try again in %(minutes)s minute(s).",
    }

    def clean(self):
        username = (self.cleaned_data.get("username") or "").strip().lower()
        checks = self._checks(username)
        try:
            blocked = [reset for item, key in checks if (reset := self._blocked_until(item, key))]
        except Exception:  # the storage is down: behave as Django's own form (logged)
            logger.exception("admin log-in rate limit unavailable")
            return super().clean()
        if blocked:
            minutes = max(1, math.ceil((max(blocked) - time.time()) / 60))
            raise ValidationError(
                self.error_messages["throttled"], code="throttled", params={"minutes": minutes}
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            self._count_failure(checks)
            raise
        self._clear(checks[0])
        return cleaned

    def _checks(self, username: str) -> list[tuple[RateLimitItem, str]]:
        per_user, per_address = _limits(settings.ADMIN_LOGIN_FAILURES)
        return [
            (per_user, f"user:{username}"),
            (per_address, f"address:{client_address(self.request) if self.request else ''}"),
        ]

    @staticmethod
    def _blocked_until(item: RateLimitItem, key: str) -> float | None:
        limiter = moving_window()
        if limiter.test(item, "admin-login", key):
            return None
        return limiter.get_window_stats(item, "admin-login", key).reset_time

    @staticmethod
    def _count_failure(checks) -> None:
        try:
            for item, key in checks:
                moving_window().hit(item, "admin-login", key)
        except Exception:
            logger.exception("admin log-in rate limit unavailable")

    @staticmethod
    def _clear(check) -> None:
        item, key = check
        try:
            moving_window().clear(item, "admin-login", key)
        except Exception:
            logger.exception("admin log-in rate limit unavailable")
