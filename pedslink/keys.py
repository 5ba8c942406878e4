"""Secrets made once per install (README, "A trial on one machine").

When SECRET_KEY or PATIENT_ID_HMAC_KEY is not in the environment, the settings read it from a
file under SECRETS_DIR (`var/secrets/`, which git ignores), which the first process to need it
creates with a random value. No key written in the repository ever signs anything.

Processes started together (honcho starts four at once) must agree on one value: the file is
written whole under a temporary name and then linked to its name, which fails if another
process got there first; the loser reads the winner's complete file. Plain module, no Django
import: settings.py uses it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path


def install_secret(path: Path) -> str:
    """The secret kept in `path`, created (mode 0600, in a 0700 folder) on first use."""
    if not path.exists():
        _create(path)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)  # copied in with a lax umask: nobody else may read a signing key
    value = path.read_text(encoding="ascii").strip()
    if not value:
        raise RuntimeError(f"{path} is empty: delete it and a new secret is made")
    return value


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(50) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: use that
            os.link(temporary, path)  # atomic, and refuses when the file already exists
    finally:
        os.unlink(temporary)
