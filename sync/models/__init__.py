"""Canonical records and their change log (records.py); the sync engine's bookkeeping (engine.py);
each integration's discovered provider fields (fields.py); enrichment, scoring and automation
(enrichment.py); client onboarding's tracking rows, portals, orders and audits (onboarding.py);
providers' daily figures (reports.py); lead-lifecycle events for analytics services (lead_events.py)."""

from sync.models.engine import *  # noqa: F403
from sync.models.enrichment import *  # noqa: F403
from sync.models.fields import *  # noqa: F403
from sync.models.lead_events import *  # noqa: F403
from sync.models.onboarding import *  # noqa: F403
from sync.models.records import *  # noqa: F403
from sync.models.reports import *  # noqa: F403
