"""Keys for the embedded default: generated once, kept in ``var/`` with owner-only permissions."""

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def local_key(var_dir: Path, name: str, *, fernet: bool = False) -> str:
    """Return the key stored in ``var/<name>``, creating it on first use.

    Only for the embedded default: production passes SECRET_KEY / FIELD_ENCRYPTION_KEYS.
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / name
    if not path.exists():
        value = Fernet.generate_key().decode() if fernet else secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
    return path.read_text().strip()
