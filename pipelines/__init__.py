"""Prefect flows and deployments for bansos-merge.

Prefect is configured here, before it is imported: a pipeline that holds personal data
must not send telemetry, and the ephemeral server gets time to start on a loaded machine.
"""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
