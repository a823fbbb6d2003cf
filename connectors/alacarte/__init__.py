"""À La Carte Chat (providers.md §8, /ALACARTE_WIRE.md): customers, their conversations and messages.

Customers (contact) are pushed through the smart-upsert ``/api-customers-sync`` and read back by id;
messages (activity) are polled from ``/api-messages-since`` or arrive by webhook; conversations
arrive by webhook or with a customer's conversation list. The ``Messenger`` capability sends
messages, uploads attachments and mints the embedded inbox's single-sign-on URL.
"""
