"""Custom fields the platform creates in an org through the Tooling API (``create_fields``): a
``FieldSpec`` → the CustomField ``Metadata`` Salesforce wants for it."""

from __future__ import annotations

from typing import Any

from connectors.base import FieldSpec

CUSTOM_SUFFIX = "__c"
NUMBER_PRECISION = 18  # Salesforce's largest; scale 0: scores are whole numbers
TEXT_LENGTH = 255  # a Text field's most
LONG_TEXT_LENGTH = 32_768
LONG_TEXT_LINES = 5


def custom_field_metadata(spec: FieldSpec) -> dict[str, Any]:
    """The CustomField ``Metadata`` for a number, string (Text) or text (LongTextArea) field."""
    if spec.type == "number":
        return {"label": spec.label, "type": "Number", "precision": NUMBER_PRECISION, "scale": 0}
    if spec.type == "string":
        return {"label": spec.label, "type": "Text", "length": TEXT_LENGTH}
    if spec.type == "text":
        return {
            "label": spec.label,
            "type": "LongTextArea",
            "length": LONG_TEXT_LENGTH,
            "visibleLines": LONG_TEXT_LINES,
        }
    raise ValueError(f"Salesforce fields are not created as {spec.type!r} here: use number, string or text")
