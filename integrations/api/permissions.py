from rest_framework.permissions import BasePermission


class HasSubAccount(BasePermission):
    """Authenticated, and bound to exactly one sub-account."""

    message = "Authentication credentials were not provided."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and getattr(request._request, "subaccount", None))
