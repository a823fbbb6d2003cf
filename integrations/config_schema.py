"""Integration configs against their template's JSON Schema: validate, keep secrets, redact.

A field is secret when its schema says ``"format": "password"`` or ``"writeOnly": true``. Secrets
are never sent back (API, admin, audit log); an update that leaves a secret blank keeps the
stored value.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from jsonschema import Draft202012Validator, FormatChecker

SECRET_MASK = "********"  # noqa: S105 (the mask, not a secret)

format_checker = FormatChecker(formats=())


@format_checker.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    # jsonschema leaves "uri" unchecked without its GPL extra; an http(s) URL with a host is what
    # every config here means by it.
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    return True


@format_checker.checks("email", raises=EmailNotValidError)
def _is_email(value: object) -> bool:
    if isinstance(value, str):
        validate_email(value, check_deliverability=False)
    return True


@format_checker.checks("ip-network", raises=ValueError)
def _is_ip_network(value: object) -> bool:
    if isinstance(value, str):
        try:
            ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise ValueError("must be an IP address or a CIDR range (203.0.113.0/24)") from None
    return True


# Every provider's receiver refuses senders outside ``config["allowed_ips"]`` when it is set
# (webhooks/inbound/views.py); a template that receives webhooks offers the field, unless it
# describes it itself (Salesforce's, with its own wording).
SENDER_ALLOWLIST = "allowed_ips"
SENDER_ALLOWLIST_PROPERTY = {
    "type": "array",
    "title": "Allowed webhook source IPs",
    "description": "Optional. One IP address or CIDR range per line; webhooks from any other address "
    "are refused (403) and logged.",
    "items": {"type": "string", "format": "ip-network", "maxLength": 64},
    "uniqueItems": True,
    "maxItems": 100,
}


def with_sender_allowlist(schema: dict[str, Any], capabilities: dict[str, Any] | None) -> dict[str, Any]:
    """``schema`` with the sender allowlist field when the template receives webhooks."""
    if not (capabilities or {}).get("webhooks") or schema.get("type") != "object":
        return schema
    if SENDER_ALLOWLIST in (schema.get("properties") or {}):
        return schema
    return {
        **schema,
        "properties": {**(schema.get("properties") or {}), SENDER_ALLOWLIST: SENDER_ALLOWLIST_PROPERTY},
    }


class ConfigInvalid(ValueError):
    """Per-field errors: ``{"field.path": ["message", ...]}``; "" keys the object itself."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k or 'config'}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def is_secret(prop: dict[str, Any]) -> bool:
    return prop.get("format") == "password" or bool(prop.get("writeOnly"))


def iter_properties(
    schema: dict[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], dict]]:
    """Every property (depth first) with its path; nested objects yield themselves and children."""
    for name, prop in (schema.get("properties") or {}).items():
        path = (*prefix, name)
        yield path, prop
        if prop.get("type") == "object":
            yield from iter_properties(prop, path)


def secret_paths(schema: dict[str, Any]) -> list[tuple[str, ...]]:
    return [path for path, prop in iter_properties(schema) if is_secret(prop)]


def path_get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def path_set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = value


def path_pop(data: dict[str, Any], path: tuple[str, ...]) -> None:
    for part in path[:-1]:
        data = data.get(part)
        if not isinstance(data, dict):
            return
    data.pop(path[-1], None)


def apply_defaults(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Fill in ``default`` values for absent properties (nested objects too)."""
    result = copy.deepcopy(data)
    for path, prop in iter_properties(schema):
        if "default" in prop and path_get(result, path) is None:
            parent = path_get(result, path[:-1]) if len(path) > 1 else result
            if isinstance(parent, dict):  # defaults only inside objects that exist
                path_set(result, path, copy.deepcopy(prop["default"]))
    return result


def validate_config(schema: dict[str, Any], data: Any) -> dict[str, Any]:
    """Return the config with defaults applied, or raise ConfigInvalid with per-field messages."""
    if not isinstance(data, dict):
        raise ConfigInvalid({"": ["must be a JSON object"]})
    data = apply_defaults(schema, data)
    validator = Draft202012Validator(schema, format_checker=format_checker)
    errors: dict[str, list[str]] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = ".".join(filter(None, [path, missing]))
            message = "This field is required."
        elif error.validator == "additionalProperties":
            message = "Unknown field: " + error.message.split("(")[-1].rstrip(")")
        else:
            message = _message(error)
        errors.setdefault(path, []).append(message)
    if errors:
        raise ConfigInvalid(errors)
    return data


def _message(error) -> str:
    # Never echo the instance for secret fields: the message must not carry the value.
    prop = error.schema if isinstance(error.schema, dict) else {}
    if is_secret(prop):
        return f"Invalid value ({error.validator})."
    if error.validator == "format" and error.cause is not None:
        return str(error.cause)  # the checker's own words ("must be an http(s) URL")
    return error.message


def merge_config(schema: dict[str, Any], stored: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """``incoming`` over ``stored``, where a blank or masked secret keeps the stored one."""
    merged = copy.deepcopy(incoming)
    for path in secret_paths(schema):
        value = path_get(incoming, path)
        if value in (None, "", SECRET_MASK) and path_get(stored, path) not in (None, ""):
            path_set(merged, path, path_get(stored, path))
        elif value in ("", SECRET_MASK):
            path_pop(merged, path)
    return merged


def redact_config(schema: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The config without its secrets, for the API, the admin and logs."""
    redacted = copy.deepcopy(config or {})
    for path in secret_paths(schema):
        path_pop(redacted, path)
    return redacted


def secrets_set(schema: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """Names of secret fields that hold a value (so the UI can say "set" without showing it)."""
    return [".".join(path) for path in secret_paths(schema) if path_get(config or {}, path) not in (None, "")]


def audit_diff(schema: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Changed fields as {path: {"from": x, "to": y}}; secrets only as "[changed]"."""
    secret = {".".join(p) for p in secret_paths(schema)}
    diff: dict[str, Any] = {}
    keys = {".".join(p) for p, prop in iter_properties(schema) if prop.get("type") != "object"}
    keys |= set(_flatten(old)) | set(_flatten(new))
    flat_old, flat_new = _flatten(old or {}), _flatten(new or {})
    for key in sorted(keys):
        before, after = flat_old.get(key), flat_new.get(key)
        if before == after:
            continue
        diff[key] = "[changed]" if key in secret else {"from": before, "to": after}
    return diff


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in (data or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
