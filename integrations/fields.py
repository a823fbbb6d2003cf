"""EncryptedJSONField: any JSON value, stored as a Fernet token in a text column; EncryptedTextField
and BlindIndexField: personal text encrypted at rest, looked up through a keyed index (``integrations.pii``).

We write our own because the libraries either do not import on Django 5 or get JSON wrong
(LIBRARIES.md §2). Reads with a wrong key raise ``DecryptionError``; ciphertext is never returned.
"""

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import FieldError
from django.db import models
from django.db.models import lookups
from django.db.models.expressions import Col, Value

from integrations.crypto import decrypt_json, encrypt_json
from integrations.pii import (
    KINDS,
    blind_index,
    decrypt_json_value,
    decrypt_text,
    encrypt_json_value,
    encrypt_text,
    is_token,
    json_text,
    pii_encrypted,
)


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


class EncryptedTextField(models.TextField):
    """Personal text (a name, an address, a message) stored encrypted when ENCRYPT_PII is on.

    The Python value is always the clear text, so code comparing values (change detection, the
    three-way merge) sees what it always saw. ``max_length`` is validated, not a column limit (a
    token is longer than its text). The database cannot compare ciphertexts: a field with a
    ``BlindIndexField`` answers ``exact``/``iexact``/``in`` through that index, any other lookup
    (``icontains``, ordering by content) is refused with a FieldError rather than silently wrong.
    """

    description = "Text encrypted at rest (personal data)"

    def from_db_value(self, value: str | None, expression, connection) -> str | None:
        if value is None:
            return None
        return decrypt_text(value, label=f"{self.model._meta.label}.{self.name}")

    def to_python(self, value: Any) -> str | None:
        # A fixture written by dumpdata holds the token (value_to_string): load the text back.
        value = super().to_python(value)
        return decrypt_text(value, label=self.name) if isinstance(value, str) else value

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return encrypt_text(value)

    def value_to_string(self, obj) -> str:
        # dumpdata writes what the column would hold: no personal data in clear when ENCRYPT_PII is on.
        return encrypt_text(self.value_from_object(obj) or "")

    def clear_db_value(self, value: str | None) -> str | None:
        """The column's value written in clear (reversing the encryption migration)."""
        return value

    def blind_index_field(self) -> "BlindIndexField | None":
        """The column indexing this one, if any (``email`` → ``email_index``)."""
        return next(
            (
                f
                for f in self.model._meta.concrete_fields
                if isinstance(f, BlindIndexField) and f.source == self.name
            ),
            None,
        )

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        if lookup_name in BLIND_LOOKUPS and self.blind_index_field() is not None:
            return BLIND_LOOKUPS[lookup_name]
        return None

    def formfield(self, **kwargs):
        if self.max_length and self.max_length <= 500:
            kwargs.setdefault("widget", forms.TextInput)
        return super().formfield(**kwargs)


class PiiJSONField(models.JSONField):
    """A JSON value that copies personal data (a link's agreed values, a conflict's sides, custom
    fields, an outbound webhook's payload), encrypted at rest when ENCRYPT_PII is on.

    The column is text holding a Fernet token, or the JSON text when written in clear (ENCRYPT_PII
    off, an empty ``{}``/``[]``, rows from before the switch); reads accept both
    (``integrations.pii.decrypt_json_value``). In Python it is a JSONField: a dict or list, a JSON
    form field, a DRF JSONField. The database cannot look inside a token, so key lookups, containment
    and comparisons are refused with a FieldError (``isnull`` only) rather than silently finding nothing.
    Every write path adapts values through ``get_db_prep_value`` (save, bulk_create, bulk_update,
    ``sync.bulk``'s COPY, ``integrations.pii_rows``), never ``json.dumps`` of its own.
    """

    description = "JSON encrypted at rest (copies of personal data)"

    def get_internal_type(self) -> str:
        return "TextField"  # the column: a token is not JSON, so not jsonb

    def from_db_value(self, value: str | None, expression, connection) -> Any:
        if value is None:
            return None
        return decrypt_json_value(value, label=f"{self.model._meta.label}.{self.name}")

    def to_python(self, value: Any) -> Any:
        # A fixture written by dumpdata holds the token (value_to_string): load the JSON value back.
        if isinstance(value, str) and is_token(value):
            return decrypt_json_value(value, label=self.name)
        return value

    def get_db_prep_value(self, value: Any, connection, prepared: bool = False) -> Any:
        if isinstance(value, Value) and isinstance(value.output_field, models.JSONField):
            value = value.value
        elif hasattr(value, "as_sql"):
            return value
        if value is None:
            return None
        return encrypt_json_value(value, self.encoder)

    def clear_db_value(self, value: Any) -> str | None:
        """The column's value written in clear (reversing the encryption migration)."""
        return None if value is None else json_text(value, self.encoder)

    def value_to_string(self, obj) -> Any:
        # dumpdata: a token when ENCRYPT_PII is on (never the personal data), else the value as a
        # JSONField writes it, so fixtures in clear look as they always did.
        value = self.value_from_object(obj)
        if value is None or not pii_encrypted():
            return value
        return encrypt_json(value)

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            return None  # a token is not comparable
        return super().get_lookup(lookup_name)

    def get_transform(self, name):
        return None  # no key lookups inside a token


class BlindIndexField(models.CharField):
    """HMAC of another field's normalised value (``integrations.pii.blind_index``), kept by
    ``pre_save`` on every write path that saves the instance (save(), bulk_create, the COPY and
    UPDATE bulk writes in ``sync``), so it never disagrees with the value it indexes. A raw
    ``QuerySet.update(email=...)`` bypasses pre_save: use save() or the services instead (nothing
    in the code base updates an indexed field that way; ``reencrypt`` repairs indexes if it happens)."""

    description = "Keyed blind index of a personal field"

    def __init__(self, *args, source: str, kind: str, **kwargs):
        if kind not in KINDS:
            raise ValueError(f"BlindIndexField kind must be one of {KINDS}")
        self.source, self.kind = source, kind
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.update(source=self.source, kind=self.kind)
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = blind_index(getattr(model_instance, self.source) or "", self.kind)
        setattr(model_instance, self.attname, value)
        return value


def with_blind_indexes(model: type[models.Model], names: Iterable[str]) -> list[str]:
    """``names`` plus the blind indexes of those among them: what an update of ``names`` writes."""
    names = list(names)
    extra = [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, BlindIndexField) and f.source in names and f.name not in names
    ]
    return [*names, *extra]


class _BlindIndexed:
    """Compare the blind index column instead of the encrypted one (lhs and rhs swapped over)."""

    def __init__(self, lhs, rhs):
        index = lhs.output_field.blind_index_field()
        if not isinstance(lhs, Col):
            raise FieldError(f"{lhs.output_field.name} is encrypted: only a plain column can be looked up")
        super().__init__(Col(lhs.alias, index), self.index_rhs(index, rhs))

    @staticmethod
    def index_rhs(index: BlindIndexField, rhs: Any) -> Any:
        return blind_index(str(rhs or ""), index.kind)


class BlindExact(_BlindIndexed, lookups.Exact):
    pass


class BlindIExact(_BlindIndexed, lookups.Exact):
    lookup_name = "iexact"  # e-mail is indexed lower-case: exact on the index is case-insensitive


class BlindIn(_BlindIndexed, lookups.In):
    @staticmethod
    def index_rhs(index: BlindIndexField, rhs: Any) -> Any:
        return {blind_index(str(v or ""), index.kind) for v in rhs}


BLIND_LOOKUPS = {"exact": BlindExact, "iexact": BlindIExact, "in": BlindIn}
