"""What the sync layer announces to the layers built on it.

Sync never imports ``webhooks``: it sends these signals, and ``webhooks/apps.py`` connects the
receivers that turn them into outbound messages. Receivers run synchronously, inside the sender's
transaction, and their exceptions propagate: an announcement is part of the write it announces.
"""

from django.dispatch import Signal

# Change rows were written in the current transaction (the outbox pumps them after commit).
# kwargs: subaccount_id (int).
changes_recorded = Signal()

# Conflicts were opened for a manual decision, inside the transaction that stored them.
# kwargs: conflicts (list[Conflict]).
conflicts_detected = Signal()

# A sync run reached a final status (succeeded / partial / failed).
# kwargs: run (SyncRun).
sync_run_finished = Signal()

# A page of remote records was applied (pull or webhook), inside the transaction that applied it.
# kwargs: integration (Integration), entity (str), records (dict[str, RemoteRecord], by remote id:
# the provider's own fields), failed (dict[str, str]: remote id → why it was not applied).
records_pulled = Signal()

# Local records were pushed to a provider (after the writes; links are stored).
# kwargs: integration (Integration), entity (str), local_ids (list[int]: the records considered),
# failed (dict[int, str]: local id → the provider's refusal).
records_pushed = Signal()
