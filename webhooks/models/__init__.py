"""Inbound provider webhooks (inbound.py), outbound deliveries to sub-accounts' apps (outbound.py) and
the system health page's queue samples (observability.py)."""

from webhooks.models.inbound import *  # noqa: F403
from webhooks.models.observability import *  # noqa: F403
from webhooks.models.outbound import *  # noqa: F403
