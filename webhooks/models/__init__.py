"""Inbound provider webhooks (inbound.py) and outbound deliveries to sub-accounts' apps (outbound.py)."""

from webhooks.models.inbound import *  # noqa: F403
from webhooks.models.outbound import *  # noqa: F403
