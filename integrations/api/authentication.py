"""API keys (``Authorization: Bearer <key>`` or ``X-Api-Key``) and staff sessions.

Every authenticated request carries ``request.subaccount``: the key's sub-account, or for a staff
session the one named by ``X-Subaccount`` (a slug the user is a member of; superusers: any). A
superuser's session without ``X-Subaccount`` is the operator acting on the platform itself (managing
the catalog): it authenticates with no sub-account, and every sub-account endpoint refuses it (403).
"""

from django.utils import timezone
from rest_framework import authentication, exceptions

from integrations.log_context import log_bind
from integrations.models import ApiKey, SubAccount


class ApiKeyPrincipal:
    """The "user" of a request made with an API key."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, key: ApiKey):
        self.key = key
        self.subaccount = key.subaccount
        self.pk = None

    def __str__(self) -> str:
        return f"api_key:{self.key.prefix}"

    def get_username(self) -> str:
        return str(self)


def actor_for(request) -> str:
    """How the audit log names whoever made this request."""
    user = getattr(request, "user", None)
    if isinstance(user, ApiKeyPrincipal):
        return str(user)
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.get_username()}"
    return "system"


def _key_from_headers(request) -> str | None:
    """The key from ``Authorization: Bearer <key>``, else ``X-Api-Key``. An Authorization header of
    any other form is refused rather than passed over: a client sending one means it."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <API key>'.")
        return value.strip()
    value = request.META.get("HTTP_X_API_KEY", "")
    return value.strip() or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = _key_from_headers(request)
        if raw is None:
            return None
        try:
            key = ApiKey.objects.get_from_key(raw)
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("API key not recognised.") from None
        # get_from_key() checks neither revocation nor expiry (LIBRARIES.md): we do.
        if key.revoked:
            raise exceptions.AuthenticationFailed("API key has been revoked.")
        if key.has_expired:
            raise exceptions.AuthenticationFailed("API key has expired.")
        if not key.subaccount.is_active:
            raise exceptions.AuthenticationFailed("The sub-account is disabled.")
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        request._request.subaccount = key.subaccount
        log_bind(subaccount=key.subaccount.slug, subaccount_id=key.subaccount_id, api_key_prefix=key.prefix)
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """The admin's own calls: a staff session plus ``X-Subaccount: <slug>``."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if not user.is_staff:
            return None
        slug = request.META.get("HTTP_X_SUBACCOUNT", "")
        if not slug and user.is_superuser:
            return result  # the operator: only operator endpoints let it through (permissions.py)
        subaccounts = SubAccount.objects.filter(slug=slug, is_active=True)
        if not user.is_superuser:
            subaccounts = subaccounts.filter(memberships__user=user)
        subaccount = subaccounts.first()
        if subaccount is None:
            raise exceptions.PermissionDenied("Name a sub-account you manage in the X-Subaccount header.")
        request._request.subaccount = subaccount
        log_bind(subaccount=subaccount.slug, subaccount_id=subaccount.pk)
        return result
