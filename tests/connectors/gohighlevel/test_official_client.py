"""GoHighLevel's official Python SDK (``gohighlevel-api-client``, pinned in requirements-dev.txt)
against the emulator, unchanged but for its base URL: it sends ``Version: v3`` and a private
integration token, and reads contacts, notes, tasks, pipelines, free slots and appointments."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from highlevel import HighLevel

from connectors.gohighlevel.emulator.store import CALENDAR_ID, PIPELINE_ID, SANDBOX_LOCATION


def sdk_for(base: str, token: str) -> HighLevel:
    """The SDK as shipped, pointed at the emulator (its one base URL is a class attribute)."""
    sandbox = type("SandboxHighLevel", (HighLevel,), {"BASE_URL": base})
    return sandbox(private_integration_token=token)


def test_the_official_sdk_works_against_the_emulator(base, key_config):
    async def scenario():
        sdk = sdk_for(base, key_config["apiKey"])
        try:
            return await steps(sdk)
        finally:
            await sdk.http_client.aclose()

    async def steps(sdk):
        made = await sdk.contacts.create_contact(
            {"locationId": SANDBOX_LOCATION, "firstName": "Sdk", "email": "sdk@example.com"}
        )
        contact_id = made["contact"]["id"]
        got = await sdk.contacts.get_contact(contact_id)
        note = await sdk.contacts.create_note(contact_id, {"body": "From the SDK"})
        task = await sdk.contacts.create_task(
            contact_id, {"title": "Call", "dueDate": "2030-01-07T10:00:00.000Z", "completed": False}
        )
        notes = await sdk.contacts.get_all_notes(contact_id)
        pipelines = await sdk.opportunities.get_pipelines(SANDBOX_LOCATION)
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        monday = today + timedelta(days=7 - today.weekday())
        slots = await sdk.calendars.get_slots(
            CALENDAR_ID,
            int(monday.timestamp() * 1000),
            int((monday + timedelta(days=1)).timestamp() * 1000),
        )
        first = slots[monday.date().isoformat()]["slots"][0]
        booked = await sdk.calendars.create_appointment(
            {
                "calendarId": CALENDAR_ID,
                "locationId": SANDBOX_LOCATION,
                "contactId": contact_id,
                "startTime": first,
                "endTime": (datetime.fromisoformat(first) + timedelta(minutes=30)).isoformat(),
                "title": "SDK booking",
            }
        )
        return got, note, task, notes, pipelines, slots, booked, contact_id

    got, note, task, notes, pipelines, slots, booked, contact_id = asyncio.run(scenario())
    assert got["contact"]["email"] == "sdk@example.com"
    assert note["note"]["body"] == "From the SDK" and task["task"]["title"] == "Call"
    assert [n["id"] for n in notes["notes"]] == [note["note"]["id"]]
    assert pipelines["pipelines"][0]["id"] == PIPELINE_ID
    assert len([day for day in slots if day != "traceId"]) == 1
    assert booked["contactId"] == contact_id and booked["title"] == "SDK booking"
