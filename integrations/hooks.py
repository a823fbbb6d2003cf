"""What the integrations layer announces to the layers built on it.

Integrations sits at the bottom: it imports nothing from ``sync`` or ``webhooks``. When something
happens that a higher layer cares about, it sends one of these signals; the higher layer connects
its receiver in its ``AppConfig.ready`` (``webhooks/apps.py``). Receivers run synchronously,
inside the sender's transaction, and their exceptions propagate: an announcement is part of the
write it announces.
"""

from django.dispatch import Signal

# Sent inside the transaction that changed the status.
# kwargs: integration (Integration), old (str), new (str), reason (str).
integration_status_changed = Signal()

# The wizard's tables step mapped a table's columns to canonical fields (sent inside the request,
# after the config was saved). kwargs: integration (Integration), mappings (dict[entity, dict[
# canonical field, column name or "" for "not synced"]]). The sync layer stores them as mappings.
wizard_mappings_chosen = Signal()
