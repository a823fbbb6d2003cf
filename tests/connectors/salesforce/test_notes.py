"""Notes: activity kind "note" as ContentNote (linked through ContentDocumentLink) or classic Note."""

from __future__ import annotations

import base64

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connectors.base import RELATIONS_KEY


def pull(connector, entity, cursor=None):
    pages = list(connector.pull(entity, cursor=cursor))
    return [r for page in pages for r in page.records], (pages[-1].cursor if pages else cursor)


def blob(sf, url):
    resp = sf.session.get(f"https://{sf.sf_instance}{url}", headers=sf.headers, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.content.decode()


def links(sf, note_id):
    soql = "SELECT LinkedEntityId FROM ContentDocumentLink WHERE ContentDocumentId = "
    rows = sf.query(soql + f"'{note_id}'")  # an id the emulator issued
    return sorted(row["LinkedEntityId"] for row in rows["records"])


def test_a_note_written_by_the_connector_reads_back_with_simple_salesforce(connector, sf):
    (contact,) = connector.create("contact", [{"LastName": "Ana"}])
    (deal,) = connector.create("deal", [{"Name": "D", "StageName": "Prospecting", "CloseDate": "2025-06-30"}])
    (note,) = connector.create(
        "activity",
        [
            {
                "_kind": "note",
                "Subject": "Call notes",
                "Description": "Wants a demo — next week",
                "Status": "Completed",  # the shared mapping's Task fields never reach a note
                RELATIONS_KEY: {
                    "contact_id": {"add": [contact.remote_id], "remove": []},
                    "deal_id": {"add": [deal.remote_id], "remove": []},
                },
            }
        ],
    )
    assert note.ok and note.remote_id.startswith("069") and note.relations_failed == ()
    stored = sf.ContentNote.get(note.remote_id)
    assert stored["Title"] == "Call notes" and stored["FileType"] == "SNOTE"
    assert stored["Content"].endswith(f"/sobjects/ContentNote/{note.remote_id}/Content")  # a blob URL
    assert blob(sf, stored["Content"]) == "Wants a demo — next week"
    assert links(sf, note.remote_id) == sorted([contact.remote_id, deal.remote_id])

    changes = {
        "Description": "Demo booked",
        RELATIONS_KEY: {"deal_id": {"add": [], "remove": [deal.remote_id]}},
    }
    (updated,) = connector.update("activity", [(note.remote_id, changes)])
    assert updated.ok
    assert blob(sf, sf.ContentNote.get(note.remote_id)["Content"]) == "Demo booked"
    assert links(sf, note.remote_id) == [contact.remote_id]


def test_notes_made_with_simple_salesforce_pull_with_body_links_and_deletes(connector, sf):
    account = sf.Account.create({"Name": "Acme"})["id"]
    content = base64.b64encode(b"Met at the fair").decode()
    note = sf.ContentNote.create({"Title": "Fair", "Content": content})["id"]
    sf.ContentDocumentLink.create({"ContentDocumentId": note, "LinkedEntityId": account, "ShareType": "V"})
    records, cursor = pull(connector, "activity")
    (record,) = [r for r in records if r.id == note]
    assert (record.remote_type, record.fields["_kind"]) == ("ContentNote", "note")
    assert (record.fields["Subject"], record.fields["Description"]) == ("Fair", "Met at the fair")
    assert record.relations == {
        "contact_id": (),
        "company_id": (account,),
        "deal_id": (),
        "conversation_id": (),
    }

    sf.ContentNote.update(note, {"Title": "Trade fair"})
    delta, cursor = pull(connector, "activity", cursor)
    assert [(r.id, r.fields["Subject"]) for r in delta] == [(note, "Trade fair")]
    assert connector.delete("activity", [note])[0].ok
    delta, _ = pull(connector, "activity", cursor)
    assert [(r.id, r.deleted) for r in delta] == [(note, True)]
    assert links(sf, note) == []  # a deleted note takes its links with it


def test_content_document_links_need_an_id_filter_as_in_salesforce(sf):
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id FROM ContentDocumentLink")
    assert exc.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert "Implementation restriction" in exc.value.content[0]["message"]


def test_classic_notes_take_their_parent_on_create(make_connector, sf):
    connector = make_connector(note_object="Note")
    (contact,) = connector.create("contact", [{"LastName": "Ana"}])
    relation = {"contact_id": {"add": [contact.remote_id], "remove": []}}
    (note,) = connector.create(
        "activity", [{"_kind": "note", "Subject": "Hi", "Description": "Plain", RELATIONS_KEY: relation}]
    )
    assert note.remote_id.startswith("002")
    stored = sf.Note.get(note.remote_id)
    assert (stored["Title"], stored["Body"], stored["ParentId"]) == ("Hi", "Plain", contact.remote_id)
    records, _ = pull(connector, "activity")
    (record,) = [r for r in records if r.id == note.remote_id]
    assert record.fields["Description"] == "Plain" and record.relations["contact_id"] == (contact.remote_id,)
    moved = {"contact_id": {"add": [], "remove": [contact.remote_id]}}
    (result,) = connector.update("activity", [(note.remote_id, {"Subject": "Hello", RELATIONS_KEY: moved})])
    assert (
        result.ok and result.relations_failed == ("contact_id",) and "cannot change" in result.relations_error
    )
    assert sf.Note.get(note.remote_id)["Title"] == "Hello"
