"""``report_rows``: web traffic per day, source and medium from the Data API, strings parsed,
pages followed with ``offset``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.capabilities import ReportRow, ReportSource
from tests.connectors.google_analytics.conftest import control, lead_event

pytestmark = pytest.mark.django_db(transaction=True)


def test_seeded_traffic_comes_back_as_web_traffic_rows(connector, config, ga):
    assert isinstance(connector, ReportSource)
    control(config, "seed", {"object": "traffic", "count": 10})
    today = datetime.now(UTC).date()
    rows = list(connector.report_rows(today - timedelta(days=9), today))
    assert len(rows) == 50 and all(isinstance(row, ReportRow) for row in rows)
    row = rows[0]
    assert row.kind == "web_traffic" and isinstance(row.day, date)
    assert row.key == f"{row.dimensions['source']}/{row.dimensions['medium']}"
    assert set(row.metrics) == {"sessions", "conversions"} and isinstance(row.metrics["sessions"], float)
    seeded = {
        (date.fromisoformat(d["date"]), f"{d['source']}/{d['medium']}"): d
        for d in ga.records("traffic").values_list("data", flat=True)
    }
    for row in rows:
        assert row.metrics["sessions"] == seeded[(row.day, row.key)]["sessions"]
        assert row.metrics["conversions"] == seeded[(row.day, row.key)]["conversions"]
    assert [r.day for r in rows] == sorted(r.day for r in rows)


def test_rows_are_paged_with_offset(connector, config, ga):
    control(config, "seed", {"object": "traffic", "count": 5})
    connector.report_page_size = 7
    today = datetime.now(UTC).date()
    before = ga.state().requests
    rows = list(connector.report_rows(today - timedelta(days=4), today))
    assert len(rows) == 25 and len({(r.day, r.key) for r in rows}) == 25
    report_calls = ga.state().requests - before - 1  # one token exchange
    assert report_calls == 4  # ceil(25 / 7)


def test_events_sent_show_up_as_sessions_and_conversions(connector):
    connector.events_send([lead_event(1, client_id="9.9", source="google", medium="cpc")])
    connector.events_send(
        [lead_event(2, client_id="8.8", name="qualify_lead", source="google", medium="cpc")]
    )
    today = datetime.now(UTC).date()
    [row] = list(connector.report_rows(today, today))
    assert (row.key, row.day) == ("google/cpc", today)
    assert row.metrics == {"sessions": 2.0, "conversions": 1.0}


def test_an_empty_range_yields_nothing(connector):
    assert list(connector.report_rows(date(2020, 1, 1), date(2020, 1, 2))) == []
