"""The Data API's ``runReport`` (providers.md §10): web traffic per day, source and medium.

GA4 answers every value as a string (``date`` as ``YYYYMMDD``, metrics as decimal strings) and
pages with ``limit``/``offset`` against ``rowCount``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from connectors.capabilities import ReportRow

WEB_TRAFFIC = "web_traffic"
DIMENSIONS = ("date", "sessionSource", "sessionMedium")
METRICS = ("sessions", "conversions")
MAX_LIMIT = 250_000
DEFAULT_LIMIT = 10_000


def report_body(since: date, until: date, *, limit: int, offset: int) -> dict[str, Any]:
    return {
        "dateRanges": [{"startDate": since.isoformat(), "endDate": until.isoformat()}],
        "dimensions": [{"name": name} for name in DIMENSIONS],
        "metrics": [{"name": name} for name in METRICS],
        "orderBys": [{"dimension": {"dimensionName": "date"}}],
        "limit": str(limit),
        "offset": str(offset),
        "keepEmptyRows": False,
        "returnPropertyQuota": True,
    }


def _number(value: Any) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def report_row(row: Mapping[str, Any], dimension_names: list[str], metric_names: list[str]) -> ReportRow:
    """One ``rows[]`` entry as a ReportRow, reading values by their headers' names."""
    dims = {
        name: str((value or {}).get("value", ""))
        for name, value in zip(dimension_names, row.get("dimensionValues") or [], strict=False)
    }
    metrics = {
        name: _number((value or {}).get("value", "0"))
        for name, value in zip(metric_names, row.get("metricValues") or [], strict=False)
    }
    source, medium = dims.get("sessionSource", ""), dims.get("sessionMedium", "")
    return ReportRow(
        kind=WEB_TRAFFIC,
        day=datetime.strptime(dims["date"], "%Y%m%d").date(),
        key=f"{source}/{medium}",
        dimensions={"source": source, "medium": medium},
        metrics={name: metrics.get(name, 0.0) for name in METRICS},
    )


def header_names(body: Mapping[str, Any], key: str) -> list[str]:
    return [str(header.get("name", "")) for header in body.get(key) or []]
