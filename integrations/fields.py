"""EncryptedJSONField: any JSON value, stored as a Fernet token in a text column.

We write our own because the libraries either do not import on Django 5 or get JSON wrong
(LIBRARIES.md §2). Reads with a wrong key raise ``DecryptionError``; ciphertext is never returned.
"""

from typing import Any

from django.db import models

from integrations.crypto import decrypt_json, encrypt_json


class EncryptedJSONField(models.TextField):
    description = "A JSON value encrypted at rest"

    def from_db_value(self, value: str | None, expression, connection) -> Any:
        if value is None:
            return None
        return decrypt_json(value, label=f"{self.model._meta.label}.{self.name}")

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt_json(value)

    def value_to_string(self, obj) -> str:
        # Fixtures and serialisers must not dump secrets in clear.
        return self.get_prep_value(self.value_from_object(obj)) or ""

    def get_lookup(self, lookup_name):
        if lookup_name not in {"isnull"}:
            return None  # ciphertext is not comparable
        return super().get_lookup(lookup_name)

    def formfield(self, **kwargs):
        return None  # never rendered in a ModelForm; forms handle secrets explicitly
