"""Corrected payroll files: kept in Django's default storage, reachable only through signed links.

The link written into the Audit Results row carries a signature of the audit's id (Django's
``signing``), so it cannot be guessed or walked; the view serves the file as an attachment.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.urls import reverse
from django.utils.text import get_valid_filename

from sync.models import AuditResult

SALT = "onboarding.corrected-file"


def corrected_file_store(*, subaccount_id: int, filename: str, content: bytes) -> str:
    """Save the corrected file; returns its path in the default storage."""
    name = get_valid_filename(filename) or "corrected"
    return default_storage.save(f"onboarding/{subaccount_id}/{uuid.uuid4().hex}/{name}", ContentFile(content))


def corrected_file_url(audit: AuditResult) -> str:
    """The absolute signed link to an audit's corrected file ("" when it has none)."""
    if not audit.corrected_file:
        return ""
    token = signing.dumps(audit.pk, salt=SALT)
    return f"{settings.PUBLIC_BASE_URL}{reverse('onboarding-corrected-file', args=[token])}"


def corrected_file_view(request: HttpRequest, token: str) -> FileResponse:
    try:
        pk = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise Http404("no such file") from None
    audit = AuditResult.objects.filter(pk=pk).exclude(corrected_file="").first()
    if audit is None or not default_storage.exists(audit.corrected_file):
        raise Http404("no such file")
    name = audit.corrected_file.rsplit("/", 1)[-1]
    return FileResponse(default_storage.open(audit.corrected_file, "rb"), as_attachment=True, filename=name)
