"""Google Analytics 4 (providers.md §10): lead-lifecycle events out through the Measurement
Protocol (an ``EventSink``), daily web traffic in from the Data API (a ``ReportSource``). No CRM
records are synced, so every record method refuses (``NoRecordsConnector``).

Two independent channels, each optional but whole: ``measurementId`` + ``apiSecret`` send events,
``serviceAccountKey`` + ``propertyId`` read reports. The service account signs a JWT that is
exchanged for a one-hour token, kept in the integration's encrypted token store and re-signed when
it runs out (``client.ServiceAccountAuth``). ``base_url`` (the Data API and token endpoint's host)
and ``collect_url`` (the MP host) point the integration at the sandbox emulator.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, ClassVar

from connectors.base import (
    AuthError,
    ConfigError,
    EntitySpec,
    NoRecordsConnector,
    PermanentError,
    TestResult,
    TransientError,
)
from connectors.capabilities import GENERATE_LEAD, EventSink, LeadEvent, ReportRow, ReportSource
from connectors.google_analytics import events as mp
from connectors.google_analytics.client import GoogleClient, ServiceAccountAuth, TokenClient
from connectors.google_analytics.credentials import KEY_FIELD, ServiceAccountKey, load_key
from connectors.google_analytics.reports import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    header_names,
    report_body,
    report_row,
)
from connectors.netguard import check_url

DATA_API_URL = "https://analyticsdata.googleapis.com"
COLLECT_URLS = {"global": "https://www.google-analytics.com", "eu": "https://region1.google-analytics.com"}
TEST_ATTEMPTS = 2  # a connection test answers the wizard within seconds
SAMPLE_CLIENT_ID = "555.1700000000"


class GoogleAnalyticsConnector(NoRecordsConnector, ReportSource, EventSink):
    key = "google_analytics"
    display_name = "Google Analytics 4"
    does = "sends lead events and reads traffic reports"
    entities: ClassVar[Mapping[str, EntitySpec]] = {}
    rate_limit = "10/1"  # the Data API's 10 concurrent requests per property, roughly
    default_base_url = DATA_API_URL
    url_fields: ClassVar[tuple[str, ...]] = ("base_url", "collect_url")
    secret_fields: ClassVar[tuple[str, ...]] = (KEY_FIELD, "apiSecret")
    max_events_per_request = mp.MAX_EVENTS
    report_page_size = DEFAULT_LIMIT

    def __init__(self, config: Mapping[str, Any], **kwargs: Any):
        super().__init__(config, **kwargs)
        if self.config.get("report_lookback_days"):
            self.report_reread_days = int(self.config["report_lookback_days"])

    # --- config ------------------------------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> None:
        """Each channel whole, the key file loadable (a clear field error, never a 500) and the
        key's ``token_uri`` an address we may call."""
        super().validate_config(config)
        if not (config.get("measurementId") or config.get(KEY_FIELD)):
            raise ConfigError(
                "enter a Measurement ID and API secret to send events, or a service account key "
                "and Property ID to read reports",
                field="measurementId",
            )
        for present, needed, what in (
            ("measurementId", "apiSecret", "the Measurement Protocol API secret"),
            ("apiSecret", "measurementId", "the Measurement ID"),
            (KEY_FIELD, "propertyId", "the Property ID"),
            ("propertyId", KEY_FIELD, "the service account key"),
        ):
            if config.get(present) and not config.get(needed):
                raise ConfigError(f"enter {what}", field=needed)
        if config.get(KEY_FIELD):
            key = load_key(config[KEY_FIELD])
            try:
                check_url(key.token_uri)
            except ConfigError as exc:
                raise ConfigError(f"the key file's token_uri {exc}", field=KEY_FIELD) from None

    @functools.cached_property
    def service_account(self) -> ServiceAccountKey:
        if not self.config.get(KEY_FIELD):
            raise ConfigError("enter the service account key to read reports", field=KEY_FIELD)
        return load_key(self.config[KEY_FIELD])

    def property_id(self) -> str:
        value = str(self.config.get("propertyId") or "").strip().removeprefix("properties/")
        if not value:
            raise ConfigError("enter the GA4 Property ID", field="propertyId")
        return value

    def collect_url(self) -> str:
        if self.config.get("collect_url"):
            return str(self.config["collect_url"]).rstrip("/")
        return COLLECT_URLS.get(str(self.config.get("region") or "global"), COLLECT_URLS["global"])

    def measurement_params(self) -> dict[str, str]:
        measurement_id = str(self.config.get("measurementId") or "")
        secret = str(self.config.get("apiSecret") or "")
        if not (measurement_id and secret):
            raise ConfigError("enter the Measurement ID and API secret to send events", field="measurementId")
        return {"measurement_id": measurement_id, "api_secret": secret}

    # --- clients -------------------------------------------------------------------------------------

    @functools.cached_property
    def data_client(self) -> GoogleClient:
        key = self.service_account
        token_client = TokenClient(base_url=self.base_url())
        return GoogleClient(
            base_url=self.base_url(),
            auth=ServiceAccountAuth(key, token_client=token_client, store=self.token_store),
            limiter=self.limiter(),
            client_email=key.client_email,
            property_id=self.property_id(),
        )

    @functools.cached_property
    def collect_client(self) -> GoogleClient:
        return GoogleClient(base_url=self.collect_url())

    def run_report(self, body: Mapping[str, Any]) -> dict[str, Any]:
        answer = self.data_client.post_json(
            f"/v1beta/properties/{self.property_id()}:runReport", dict(body), idempotent=True
        )
        return answer if isinstance(answer, dict) else {}

    # --- lifecycle -----------------------------------------------------------------------------------

    def test_connection(self) -> TestResult:
        """Every configured channel: the token exchange and a one-row report, and the validation
        server's verdict on a sample ``generate_lead`` (MP itself accepts anything)."""
        checked: list[str] = []
        details: dict[str, Any] = {}
        try:
            self.validate_config(self.config)
            if self.config.get(KEY_FIELD):
                checked.append(self._test_reports(details))
            if self.config.get("measurementId"):
                checked.append(self._test_events())
        except ConfigError as exc:
            return TestResult(
                ok=False, message=self.redacted(exc), details={"reason": "config", "field": exc.field}
            )
        except AuthError as exc:
            return TestResult(ok=False, message=self.redacted(exc), details={"reason": "auth"})
        except PermanentError as exc:
            return TestResult(ok=False, message=self.redacted(exc), details={"reason": "refused"})
        except TransientError as exc:
            return TestResult(
                ok=False,
                message=f"Google Analytics could not be reached: {self.redacted(exc)}",
                details={"reason": "unreachable"},
            )
        return TestResult(ok=True, message="Connected: " + "; ".join(checked), details=details)

    def _test_reports(self, details: dict[str, Any]) -> str:
        client = self.data_client
        saved, client.max_attempts = client.max_attempts, TEST_ATTEMPTS
        client.auth.token_client.max_attempts = TEST_ATTEMPTS  # type: ignore[union-attr]
        try:
            today = date.today()
            answer = self.run_report(
                {
                    "dateRanges": [{"startDate": "yesterday", "endDate": "today"}],
                    "dimensions": [{"name": "date"}],
                    "metrics": [{"name": "sessions"}],
                    "limit": "1",
                    "returnPropertyQuota": True,
                }
            )
        finally:
            client.max_attempts = saved
        quota = (answer.get("propertyQuota") or {}).get("tokensPerDay") or {}
        details.update(
            property_id=self.property_id(),
            client_email=self.service_account.client_email,
            tokens_per_day_remaining=quota.get("remaining"),
            checked_on=today.isoformat(),
        )
        return f"reports of property {self.property_id()} readable as {self.service_account.client_email}"

    def _test_events(self) -> str:
        sample = {
            "client_id": SAMPLE_CLIENT_ID,
            "events": [
                {"name": GENERATE_LEAD, "params": {"currency": "USD", "value": 1, "engagement_time_msec": 1}}
            ],
        }
        client = self.collect_client
        saved, client.max_attempts = client.max_attempts, TEST_ATTEMPTS
        try:
            answer = client.post_json(
                "/debug/mp/collect", sample, idempotent=True, params=self.measurement_params()
            )
        finally:
            client.max_attempts = saved
        messages = answer.get("validationMessages") if isinstance(answer, dict) else None
        if messages:
            described = "; ".join(str(m.get("description") or m.get("validationCode")) for m in messages[:3])
            raise PermanentError(f"Google Analytics' validation server refused a sample event: {described}")
        return f"events accepted for {self.config.get('measurementId')}"

    # --- EventSink -----------------------------------------------------------------------------------

    def events_problems(self, events: list[LeadEvent]) -> list[str | None]:
        return [mp.event_problem(event) for event in events]

    def events_send(self, events: list[LeadEvent]) -> None:
        """One MP request per visitor among ``events`` (a request names one ``client_id``): a batch
        of one contact's events, or of events already grouped, is one request."""
        if len(events) > self.max_events_per_request:
            raise ValueError(f"send at most {self.max_events_per_request} events per request")
        params = self.measurement_params()
        for group in mp.by_visitor(events):
            self.collect_client.request("POST", "/mp/collect", json=mp.request_body(group), params=params)

    # --- ReportSource --------------------------------------------------------------------------------

    def report_rows(self, since: date, until: date) -> Iterator[ReportRow]:
        limit = max(1, min(int(self.report_page_size), MAX_LIMIT))
        offset = 0
        while True:
            answer = self.run_report(report_body(since, until, limit=limit, offset=offset))
            dimensions, metrics = (
                header_names(answer, "dimensionHeaders"),
                header_names(answer, "metricHeaders"),
            )
            rows = answer.get("rows") or []
            for row in rows:
                yield report_row(row, dimensions, metrics)
            offset += len(rows)
            if not rows or offset >= int(answer.get("rowCount") or 0):
                return
