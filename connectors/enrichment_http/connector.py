"""Generic HTTP enrichment (providers.md §11): any service answering ``POST {base_url}/enrich``.

It syncs no records (``entities`` is empty: the record methods refuse every entity); the platform
only asks it to ``enrich`` contacts and companies, ``max_batch`` records per request. A record the
service could not enrich comes back with its own ``error`` and fails alone; a record the service
said nothing about fails as ``no_result``. 429 and 5xx are retried by the shared HTTP client and,
past its attempts, raised as RateLimited / TransientError for the caller to retry later.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar

from connectors.base import (
    ConfigError,
    EnrichmentRecord,
    EnrichmentResult,
    EntitySpec,
    NoRecordsConnector,
    TestResult,
)
from connectors.enrichment_http.client import EnrichmentClient

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_BATCH = 50
MAX_TIMEOUT_S = 120.0
MAX_BATCH_LIMIT = 1000
MIN_KEY_LENGTH = 8
TEST_ATTEMPTS = 3  # a connection test answers the wizard within seconds, whatever the service does


def _number(config: Mapping[str, Any], name: str, default: float) -> float:
    value = config.get(name)
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number", field=name)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number", field=name) from None


def _score(value: Any) -> int | None:
    """A provider score as an int 0-100, or None when it gave none (or nonsense)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(0, min(100, round(value)))


def _signals(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(dict.fromkeys(str(s).strip().lower() for s in value if str(s).strip()))


def read_result(raw: Mapping[str, Any]) -> EnrichmentResult:
    """One ``results`` entry as an EnrichmentResult (the service's error, or what it found)."""
    record_id = str(raw.get("id"))
    error = raw.get("error")
    if error:
        if isinstance(error, Mapping):
            code, message = str(error.get("code") or "error"), str(error.get("message") or error.get("code"))
        else:
            code, message = "error", str(error)
        return EnrichmentResult(id=record_id, error=message or "the service refused this record", code=code)
    fields = raw.get("fields") or {}
    if not isinstance(fields, Mapping):
        return EnrichmentResult(
            id=record_id, error="the service answered fields that are not an object", code="bad_result"
        )
    return EnrichmentResult(
        id=record_id,
        fields=dict(fields),
        score=_score(raw.get("score")),
        signals=_signals(raw.get("signals")),
    )


class EnrichmentHttpConnector(NoRecordsConnector):
    key = "enrichment_http"
    does = "enriches records"
    display_name = "HTTP enrichment service"
    entities: ClassVar[Mapping[str, EntitySpec]] = {}
    enriches = True
    batch_size = DEFAULT_MAX_BATCH  # this integration's ``max_batch`` once constructed
    rate_limit = "20/1"  # our own pace; the service answers 429 when it wants less

    def __init__(self, config: Mapping[str, Any], **kwargs: Any):
        super().__init__(config, **kwargs)
        try:
            self.batch_size = max(1, int(_number(self.config, "max_batch", DEFAULT_MAX_BATCH)))
        except ConfigError:
            self.batch_size = DEFAULT_MAX_BATCH  # validate_config names the problem

    # --- configuration and auth ---------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        """What the template's schema says, checked again for configs that did not pass through it:
        a public http(s) base URL, a key, a timeout of 1-120 s, a batch of 1-1000 records."""
        if not config.get("base_url"):
            raise ConfigError("enter the service's base URL (without /enrich)", field="base_url")
        super().validate_config(config)
        if len(str(config.get("api_key") or "")) < MIN_KEY_LENGTH:
            raise ConfigError(f"enter the API key (at least {MIN_KEY_LENGTH} characters)", field="api_key")
        timeout = _number(config, "timeout_s", DEFAULT_TIMEOUT_S)
        if not 1 <= timeout <= MAX_TIMEOUT_S:
            raise ConfigError(
                f"timeout_s must be between 1 and {MAX_TIMEOUT_S:.0f} seconds", field="timeout_s"
            )
        batch = _number(config, "max_batch", DEFAULT_MAX_BATCH)
        if batch != int(batch) or not 1 <= batch <= MAX_BATCH_LIMIT:
            raise ConfigError(
                f"max_batch must be a whole number from 1 to {MAX_BATCH_LIMIT}", field="max_batch"
            )

    def auth(self):
        return self.config_bearer("api_key", "the API key")

    @functools.cached_property
    def client(self) -> EnrichmentClient:
        if not self.config.get("base_url"):
            raise ConfigError("enter the service's base URL (without /enrich)", field="base_url")
        return EnrichmentClient(
            base_url=self.base_url(),
            auth=self.auth(),
            limiter=self.limiter(),
            timeout=_number(self.config, "timeout_s", DEFAULT_TIMEOUT_S),
        )

    def test_connection(self) -> TestResult:
        """An empty ``POST /enrich``: proves the address, the contract and the key without spending
        any of the service's quota on a record. Every failure is a message, never an exception."""
        url = f"{self.base_url()}/enrich"
        return self.probe(
            lambda client: client.enrich([]),
            attempts=TEST_ATTEMPTS,
            unreachable=f"Could not reach {url}",
            connected=f"Connected to the enrichment service at {self.base_url()}",
            refused=lambda exc, message: (
                f"{url} did not accept the request"
                + (" (check the base URL: it is the address without /enrich)" if exc.status == 404 else "")
                + f": {message}"
            ),
            details={"max_batch": self.batch_size},
        )

    # --- enrichment -----------------------------------------------------------------------------

    def enrich(self, records: list[EnrichmentRecord]) -> list[EnrichmentResult]:
        """Every record's result, ``batch_size`` records per request; one the service did not
        answer for fails as ``no_result``; answers for ids we never sent are ignored."""
        results: list[EnrichmentResult] = []
        for _, chunk in self.chunks(records, self.batch_size):
            sent = [{"id": r.id, "type": r.type, "fields": dict(r.fields)} for r in chunk]
            answered: dict[str, EnrichmentResult] = {}
            for raw in self.client.enrich(sent):
                if isinstance(raw, Mapping) and raw.get("id") is not None:
                    answered.setdefault(str(raw["id"]), read_result(raw))
            for record in chunk:
                results.append(
                    answered.get(record.id)
                    or EnrichmentResult(
                        id=record.id,
                        error="the enrichment service returned no result for this record",
                        code="no_result",
                    )
                )
        return results
