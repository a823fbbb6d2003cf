"""What enrichment providers, the scorer and the pipeline exchange.

``Record.enriched`` holds what providers found, one dict per provider name
(``{"builtin": {...}, "enrichment_http": {...}}``): a provider writes only its own part, so two
providers never overwrite each other. ``enriched_view`` merges them for readers (the scorer, the
CRM fields, the API): in provider order, a later provider fills only keys still empty.

The keys providers use (all optional):

===================  =========  ===============================================================
key                  type       meaning
===================  =========  ===============================================================
domain               str        the company's web domain (lower-case, no www.)
industry             str        e.g. "SaaS", "Fintech"
employees            int        head count
size                 str        employee band: "1-10", "11-50", "51-200", "201-1000", "1001-5000", "5001+"
country              str        ISO 3166-1 alpha-2, upper-case
region               str        state / region code, e.g. "CA"
postcode             str
summary              str        a sentence or two about the company
annual_revenue       number     in the account's currency
funding_total        number
funding_stage        str        e.g. "seed", "series_a", "series_b", "public"
growth_rate          number     head-count growth over 12 months, percent
open_roles           int        job openings
===================  =========  ===============================================================

Signals are short lower-case identifiers (``hiring``, ``funding``, ``recent_reply``,
``meeting_booked``, ``visited_pricing``, ...), from providers and from the scorer's rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from sync.models import Company, Contact

Record = Contact | Company

# Employee bands, smallest first: (label, lowest head count).
SIZE_BANDS: tuple[tuple[str, int], ...] = (
    ("1-10", 1),
    ("11-50", 11),
    ("51-200", 51),
    ("201-1000", 201),
    ("1001-5000", 1001),
    ("5001+", 5001),
)


def size_band(employees: int | None) -> str:
    """The band an employee count falls in ("" when unknown)."""
    if not employees or employees < 1:
        return ""
    label = SIZE_BANDS[0][0]
    for name, lowest in SIZE_BANDS:
        if employees >= lowest:
            label = name
    return label


@dataclass
class Finding:
    """What one provider found for one record.

    ``enriched``: keys for the provider's own part of ``Record.enriched``; ``canonical``: canonical
    field updates (the built-in provider's name casing, phone normalisation, company link as
    ``company_id``); ``score``/``signals``: the provider's own, when it gives them; ``error``: why
    this record could not be enriched (the record then keeps its previous findings).
    """

    enriched: dict[str, Any] = field(default_factory=dict)
    canonical: dict[str, Any] = field(default_factory=dict)
    score: int | None = None
    signals: tuple[str, ...] = ()
    error: str = ""


class EnrichmentProvider(Protocol):
    """One enrichment source. ``enrich`` answers for every record it was given that it could
    enrich (a record missing from the answer is left alone); raising TransientError / RateLimited
    (connectors.errors) means "try the whole batch later"."""

    name: ClassVar[str] | str
    batch_size: int

    def enrich(self, entity: str, records: Sequence[Record]) -> Mapping[int, Finding]: ...


def enriched_view(
    enriched: Mapping[str, Mapping[str, Any]] | None, order: Sequence[str] = ()
) -> dict[str, Any]:
    """One dict of everything providers found: in ``order`` (then the rest, by name), a later
    provider fills only keys the earlier ones left empty. Provider scores and signals are under
    ``provider_score`` / ``signals`` in each part."""
    parts = dict(enriched or {})
    names = [n for n in order if n in parts] + sorted(n for n in parts if n not in order)
    view: dict[str, Any] = {}
    signals: list[str] = []
    for name in names:
        for key, value in (parts[name] or {}).items():
            if key == "signals":
                signals.extend(s for s in value or () if s not in signals)
            elif value not in (None, "", [], {}) and view.get(key) in (None, "", [], {}):
                view[key] = value
    if signals:
        view["signals"] = signals
    return view
