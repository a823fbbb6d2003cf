"""The errors every connector raises: transient (worth another try), permanent, auth, config.

Messages never contain secrets. Kept apart from ``base`` so the plumbing below the interface
(``http``, ``oauth``, ``ratelimit``, ``netguard``) can raise them without importing it.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error a connector raises. Messages never contain secrets."""


class TransientError(ConnectorError):
    """429, 5xx, timeouts: worth another try, after ``retry_after`` seconds if known.

    ``ambiguous``: the provider may have applied the request before failing (a 5xx, a timeout, a
    dropped connection), so a non-idempotent one (a create) must not simply be sent again.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        ambiguous: bool = True,
    ):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        self.ambiguous = ambiguous


class RateLimited(TransientError):
    """The provider (or our own limiter) says slow down: the request was not applied."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None):
        super().__init__(message, retry_after=retry_after, status=status, ambiguous=False)


class PermanentError(ConnectorError):
    """The provider refused the request and will refuse it again: never retried."""

    def __init__(self, message: str, *, status: int | None = None, code: str = ""):
        super().__init__(message)
        self.status = status
        self.code = code


class AuthError(PermanentError):
    """Credentials rejected (bad token, revoked app): the operator must reconnect."""


class ReauthorizationNeeded(AuthError):
    """An OAuth refresh failed: the integration needs the user to authorize again."""


class ConfigError(ConnectorError):
    """The integration's config cannot work (missing field, bad base URL)."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.field = field


class SignatureInvalid(ConnectorError):
    """A webhook failed verification. Fail closed."""
