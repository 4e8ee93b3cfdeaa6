"""Prefect flows and deployments for bansos-merge.

Prefect is configured here, before it is imported: a pipeline that holds personal data
must not send telemetry, the ephemeral server gets time to start on a loaded machine, and
Prefect's own state (its database of flow runs, its profiles) lives with bansos-merge's
state, not in the user's shared ~/.prefect, unless PREFECT_HOME says otherwise.
"""

import contextlib
import os
from pathlib import Path


def state_dir() -> Path:
    """Per-user state (XDG): the long-lived server's record and log, the start-up lock, and
    Prefect's home (PREFECT_HOME, when unset)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "bansos-merge"


os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
if not os.environ.get("PREFECT_HOME"):
    _home = state_dir() / "prefect"
    with contextlib.suppress(OSError):  # Prefect creates the last folder only, and warns if it cannot
        state_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        _home.mkdir(exist_ok=True, mode=0o700)
    os.environ["PREFECT_HOME"] = str(_home)
