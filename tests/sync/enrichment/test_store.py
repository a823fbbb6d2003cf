"""Enrichment columns are written only when they change, with one Change each time."""

import pytest

from sync.enrichment.store import enrichment_write
from sync.models import Change, Contact
from sync.services import record_create

pytestmark = pytest.mark.django_db


def test_a_change_is_written_once_and_an_identical_write_is_nothing(subaccount):
    contact = record_create(
        subaccount=subaccount, entity="contact", fields={"email": "a@acme.com"}, origin="api"
    )
    before = Change.objects.count()
    values = {"enriched": {"builtin": {"domain": "acme.com"}}, "enrichment_error": ""}
    assert [r.pk for r in enrichment_write([(contact, values)], origin="enrichment")] == [contact.pk]
    change = Change.objects.latest("seq")
    assert (change.op, change.fields, change.origin) == ("update", ["enriched"], "enrichment")
    assert Contact.objects.get(pk=contact.pk).version == contact.version + 1
    stale = Contact.objects.get(pk=contact.pk)
    assert enrichment_write([(stale, values)], origin="enrichment") == []
    assert Change.objects.count() == before + 1


def test_it_compares_with_the_row_as_it_is_now(subaccount):
    contact = record_create(
        subaccount=subaccount, entity="contact", fields={"email": "a@acme.com"}, origin="api"
    )
    Contact.objects.filter(pk=contact.pk).update(score=50)
    # The caller's copy says score None; the row already has 50: nothing to write.
    assert enrichment_write([(contact, {"score": 50})], origin="enrichment") == []
    assert [r.score for r in enrichment_write([(contact, {"score": 60})], origin="enrichment")] == [60]
