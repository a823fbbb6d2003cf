"""Log lines: one JSON object each (or readable console lines under DEBUG), secrets redacted.

Every process (web, worker, beat, commands) logs through the stdlib ``logging`` module and the root
handler formats each record with structlog's ``ProcessorFormatter``: a timestamp, the level, the
logger's name, the event (the message), the record's ``extra`` keys and the ids bound for the work
in progress (``integrations.log_context``: request, sub-account, integration, sync run, inbound
event, delivery, Celery task). ``LOG_FORMAT`` picks ``json`` (production's default) or ``console``.

Code never logs tokens, configs, headers or bodies (STYLE.md §5); the redaction here is a safety
net for mistakes, applied to the message and to every field: values that look like credentials
lose them, and fields named like a secret lose their value whatever it looks like.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

import structlog
from structlog.stdlib import ProcessorFormatter

FORMATS = ("json", "console")
REDACTED = "[redacted]"

_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|api_key|password|secret|token)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,}]+"
    ),
    re.compile(r"\b(pat-[a-z0-9]{2,4}-)[A-Za-z0-9-]{8,}"),
    re.compile(r"\b(whsec_)[A-Za-z0-9+/=]{8,}"),
]
# A field (an ``extra`` key or a bound id) whose name says it holds a credential.
_SECRET_NAME = re.compile(
    r"(?i)(^|_)(token|access_token|refresh_token|secret|client_secret|password|api_key|authorization"
    r"|signature|cookie)s?$"
)
# Record attributes never rendered: Django's request object (its repr carries the query string).
_DROPPED = frozenset({"request"})
_LEADING = ("timestamp", "level", "logger", "event")


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """On the handler: the record's message itself is redacted, whatever formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): (REDACTED if _secret_named(k, v) else _redacted(v)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(v) for v in value]
    return redact(str(value))  # rendered as text: redacted as text


def _secret_named(name: Any, value: Any) -> bool:
    return bool(_SECRET_NAME.search(str(name))) and value not in (None, "", True, False)


def redact_fields(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: every field of the line redacted (see the module's docstring)."""
    return {
        key: REDACTED if _secret_named(key, value) else _redacted(value)
        for key, value in event_dict.items()
        if key not in _DROPPED
    }


def leading_fields(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """timestamp, level, logger and event first: the line reads well before it is parsed."""
    first = {key: event_dict[key] for key in _LEADING if key in event_dict}
    return {**first, **{key: value for key, value in event_dict.items() if key not in first}}


def _pre_chain() -> list:
    """What every line gets before rendering: the bound ids, level, logger, time, ``extra`` keys."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]


class RedactingConsoleFormatter(ProcessorFormatter):
    """The console renderer draws tracebacks itself: the whole rendered text is redacted too."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def log_formatter(fmt: str = "json") -> logging.Formatter:
    """The root handler's formatter (``LOGGING`` names this factory): ``json`` or ``console``.

    Also routes structlog's own loggers (``structlog.get_logger()``) through the stdlib handlers, so
    both kinds of logger give the same lines.
    """
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, got {fmt!r}")
    structlog_configure()
    if fmt == "console":
        return RedactingConsoleFormatter(
            foreign_pre_chain=_pre_chain(),
            processors=[
                ProcessorFormatter.remove_processors_meta,
                redact_fields,
                # A plain traceback: rich's shows every frame's locals, credentials included.
                structlog.dev.ConsoleRenderer(
                    colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
                ),
            ],
        )
    return ProcessorFormatter(
        foreign_pre_chain=_pre_chain(),
        processors=[
            ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_fields,
            leading_fields,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )


def structlog_configure() -> None:
    structlog.configure(
        processors=[*_pre_chain()[:-1], ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def logging_config(*, fmt: str, level: str) -> dict[str, Any]:
    """The ``LOGGING`` setting: one stderr handler at the root, redacting and formatting."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "config.logging.RedactSecretsFilter"}},
        "formatters": {"platform": {"()": "config.logging.log_formatter", "fmt": fmt}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "filters": ["redact"], "formatter": "platform"}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Django's own server prints a line per request; ours (config.log_context) has the ids.
            "django.server": {"level": "WARNING"},
        },
    }
