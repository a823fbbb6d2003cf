"""A safety net for logs: redact anything that looks like a credential.

Code never logs tokens, configs, headers or bodies (STYLE.md §5); this filter catches mistakes.
"""

import logging
import re

_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|api_key|password|secret|token)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,}]+"
    ),
    re.compile(r"\b(pat-[a-z0-9]{2,4}-)[A-Za-z0-9-]{8,}"),
    re.compile(r"\b(whsec_)[A-Za-z0-9+/=]{8,}"),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
