"""`bansos-merge server` (a long-lived local Prefect server) and `bansos-merge serve` (a schedule).

Both wire pipelines/ (Prefect), imported inside the handlers only.
"""

from __future__ import annotations

import argparse
import os

from ..errors import UserError


def server(args: argparse.Namespace) -> int:
    """`bansos-merge server start|stop|status`: the long-lived local Prefect server runs reuse."""
    from pipelines import server as prefect_server

    if args.action == "start":
        state, started = prefect_server.start_server()
        print(f"Prefect server {'started' if started else 'already running'}: {state['ui_url']} (pid {state['pid']}); "
              "`bansos-merge run` and `serve` use it")  # fmt: skip
        print(f"for prefect's own commands: export PREFECT_API_URL={state['api_url']}")
        return 0
    if args.action == "stop":
        state = prefect_server.stop_server()
        print(f"stopped the Prefect server on port {state['port']} (pid {state['pid']})" if state else "no Prefect server was running")
        return 0
    state = prefect_server.recorded_server()
    if state is None or not prefect_server.healthy(state["api_url"]):
        print("not running" if state is None else f"pid {state['pid']} runs, but {state['api_url']} does not answer")
        return 1
    print(f"running: {state['ui_url']} (pid {state['pid']}, since {state['started_at']}; log {state['log']})")
    print(f"export PREFECT_API_URL={state['api_url']}")
    return 0


def serve(args: argparse.Namespace) -> int:
    """`bansos-merge serve`: the merge as a Prefect deployment on a cron schedule."""
    from ..config import load_config
    from ..ingest.source import preflight

    config_path = args.config.resolve()
    preflight(load_config(config_path))
    if not os.environ.get("PREFECT_API_URL"):
        from pipelines.server import healthy, recorded_server

        state = recorded_server()
        if state is None or not healthy(state["api_url"]):
            raise UserError(
                "serve needs a running Prefect server to hold the schedule: start one with "
                "`bansos-merge server start`, or set PREFECT_API_URL to yours (see README)"
            )
        os.environ["PREFECT_API_URL"] = state["api_url"]
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from prefect.schedules import Cron

    try:
        ZoneInfo(args.timezone)
        schedule = Cron(args.cron, timezone=args.timezone)
    except ZoneInfoNotFoundError:
        raise UserError(f"--timezone {args.timezone!r} is not a time zone (e.g. Asia/Jakarta)") from None
    except ValueError:
        raise UserError(f"--cron {args.cron!r} is not a cron expression (e.g. '0 2 * * *': every day at 02:00)") from None
    from pipelines.merge_flow import merge

    print(f"serving deployment bansos-merge/{args.name} ({args.cron}, {args.timezone}); Ctrl-C to stop")
    merge.serve(
        name=args.name,
        schedule=schedule,
        parameters={"config_path": str(config_path), "incremental": args.incremental},
        tags=["bansos-merge"],
    )
    return 0
