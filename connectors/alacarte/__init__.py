"""À La Carte Chat (providers.md §8): customers pushed and matched by our id, their messages and
conversations read back, signed webhooks in."""
