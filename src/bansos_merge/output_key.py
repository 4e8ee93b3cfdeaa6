"""The output folder's secret: one random key kept beside its runs (OUTPUT/runs/.output.key,
mode 0600, made by the first run with an exclusive create, so two processes never hold
different keys). Each use derives its own key from it (HMAC-SHA256 of the use's name), so one
never gives away another:

- `workbook-tags`: the tags that keep two masked NIKs apart in the workbook;
- `person-ids`: the hash of a new person's ID. Unkeyed, an ID hashed from a record key that
  holds a NIK gives the masked NIK away (its hidden digits are the district and the birth date
  shown beside it: about a hundred candidates to hash).

The key sits next to the unmasked Parquet files: whoever can read it can read the NIKs. Copy it
with the folder to keep IDs and tags; a fresh folder makes a fresh key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from .errors import UserError

KEY_FILE = ".output.key"


def output_key(runs_dir: Path, use: str) -> bytes:
    """The key for `use`, derived from the folder's secret in `runs_dir` (made on first use)."""
    return hmac.new(_secret(Path(runs_dir)), use.encode("ascii"), hashlib.sha256).digest()


def _secret(runs_dir: Path) -> bytes:
    path = runs_dir / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) >= 16:
            return key
        raise UserError(f"{path}: the output folder's key is damaged; restore it from a backup (deleting it changes new person IDs and the workbook's tags)") from None
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    return path.read_bytes()
