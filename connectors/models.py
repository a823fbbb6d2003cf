"""The connectors app keeps no tenant data; its models are the sandbox emulators' state."""

from connectors.sandbox.models import (  # noqa: F401 (re-exported so Django finds them)
    SandboxAuthCode,
    SandboxRecord,
    SandboxState,
    SandboxToken,
    SandboxWebhook,
)
