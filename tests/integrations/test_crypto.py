import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from integrations.crypto import DecryptionError, decrypt_json, encrypt_json
from integrations.models import Integration
from tests.factories import IntegrationFactory

VALUES = [0, 1, -3.5, False, True, "", "x", None, [], {}, {"a": {"b": [0, False, "", None]}}, "ünïcode ✓"]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_encrypt_json_round_trips_every_json_value_exactly(value):
    token = encrypt_json(value)
    back = decrypt_json(token)
    assert back == value and type(back) is type(value)


def test_decrypt_with_an_unknown_key_raises_a_clear_error_without_the_ciphertext(settings):
    token = encrypt_json({"api_key": "s3cret"})
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionError) as info:
        decrypt_json(token, label="integrations.Integration.config")
    message = str(info.value)
    assert "FIELD_ENCRYPTION_KEYS" in message and "integrations.Integration.config" in message
    assert token not in message and "s3cret" not in message


def test_rotation_reads_old_values_while_the_new_key_comes_first(settings):
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    token = encrypt_json({"v": 1})
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    assert decrypt_json(token) == {"v": 1}


def _raw_column(pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM integrations_integration WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_stored_config_is_ciphertext_and_reads_back_decrypted(catalog, subaccount):
    integration = IntegrationFactory(subaccount=subaccount, config={"access_token": "pat-na1-abc", "port": 0})
    raw = _raw_column(integration.pk, "config")
    assert "pat-na1-abc" not in raw
    assert Integration.objects.get(pk=integration.pk).config == {"access_token": "pat-na1-abc", "port": 0}


def test_reencrypt_moves_every_secret_to_the_newest_key(catalog, subaccount, settings):
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    integration = IntegrationFactory(
        subaccount=subaccount,
        config={"access_token": "t"},
        tokens={"access_token": "a", "refresh_token": "r"},
        webhook_secret="w",
    )
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("reencrypt", verbosity=0)
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone: everything must still read
    fresh = Integration.objects.get(pk=integration.pk)
    assert (fresh.config, fresh.tokens["refresh_token"], fresh.webhook_secret) == (
        {"access_token": "t"},
        "r",
        "w",
    )


def test_reading_a_row_with_the_wrong_key_fails_loudly(catalog, subaccount, settings):
    integration = IntegrationFactory(subaccount=subaccount, config={"access_token": "t"})
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionError):
        Integration.objects.get(pk=integration.pk)
