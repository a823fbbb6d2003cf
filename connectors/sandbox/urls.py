"""``/sandbox/<provider>/...``: every registered emulator, mounted only when SANDBOX is on.

An emulator is served at its registry key unless it names its ``mount_paths`` (one state, several
addresses: ``enrichment_http`` answers at ``/sandbox/enrichment/`` too)."""

from django.urls import include, path

from connectors.registry import EMULATORS, emulator_module

urlpatterns = [
    path(f"{mount}/", include((emulator_module(key).emulator.urls(), f"sandbox-{mount}")))
    for key in EMULATORS
    for mount in emulator_module(key).emulator.mount_paths or (key,)
]
