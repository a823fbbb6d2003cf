from rest_framework.permissions import SAFE_METHODS, BasePermission

from integrations.api.authentication import ApiKeyPrincipal


class HasSubAccount(BasePermission):
    """Authenticated, and bound to exactly one sub-account."""

    # Only a staff session reaches this refusal authenticated (an API key always has its sub-account).
    message = "Name a sub-account you manage in the X-Subaccount header."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and getattr(request._request, "subaccount", None))


def is_operator(user) -> bool:
    """A superuser's staff session (an API key is never the operator)."""
    return bool(
        user
        and not isinstance(user, ApiKeyPrincipal)
        and getattr(user, "is_authenticated", False)
        and user.is_staff
        and user.is_superuser
    )


class CatalogAccess(BasePermission):
    """Anyone with a sub-account reads the catalog; only the operator (a superuser session) changes it."""

    message = "Only the platform operator (a superuser's staff session) can change templates."

    def has_permission(self, request, view) -> bool:
        if is_operator(request.user):
            return True
        return request.method in SAFE_METHODS and HasSubAccount().has_permission(request, view)
