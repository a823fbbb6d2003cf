"""``/sandbox/<provider>/...``: every registered emulator, mounted only when SANDBOX is on."""

from django.urls import include, path

from connectors.registry import EMULATORS, emulator_module

urlpatterns = [
    path(f"{key}/", include((emulator_module(key).emulator.urls(), f"sandbox-{key}"))) for key in EMULATORS
]
