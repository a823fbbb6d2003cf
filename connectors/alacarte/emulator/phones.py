"""Phone numbers as À La Carte Chat stores and matches them: E.164, a number written without a
country code taken in the account's default country (IE, as the seed's +353871234567)."""

from __future__ import annotations

import phonenumbers

DEFAULT_COUNTRY = "IE"


def e164(raw: str, default_country: str = DEFAULT_COUNTRY) -> str | None:
    """``raw`` in E.164 (``"087 123 4567"`` → ``"+353871234567"``), or None when it is no possible
    number (too short, letters, an unknown country code)."""
    text = (raw or "").strip()
    if not text:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_country.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
