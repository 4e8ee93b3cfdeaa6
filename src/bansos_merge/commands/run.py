"""`bansos-merge run`: the merge here, on this process's threads, or as a Prefect flow.

Exit codes beside the CLI's: EXIT_ACCOUNTING when the run was published but a file's rows
disagree with its independent count. Prefect (pipelines/) is imported inside the handlers only.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from ..errors import RunFailed, Terminated, UserError

EXIT_ACCOUNTING = 3  # the run was published, but a file's rows disagree with its independent count


def _terminate(signum, frame) -> None:
    raise Terminated()


def run(args: argparse.Namespace) -> int:
    """`bansos-merge run`: here on threads, or as a Prefect flow (see `_with_prefect`)."""
    from ..config import load_config
    from ..ingest.source import preflight
    from ..publish.run_folder import check_writable

    # SIGTERM (a service manager, `kill`) stops a run as Ctrl-C does: cleaned up, nothing left.
    signal.signal(signal.SIGTERM, _terminate)
    config = load_config(args.config, args.output)
    # A wrong config, file or output directory fails in a second, before a server starts;
    # the inputs first, so that nothing is written when they are wrong.
    preflight(config)
    check_writable(Path(config.output_dir))
    return _run_here(args, config) if not _with_prefect(args) else _run_with_prefect(args, config)


def _with_prefect(args: argparse.Namespace) -> bool:
    """Whether the run goes through Prefect: when asked (--prefect, or Dask, which runs through
    prefect-dask), or when a Prefect server is there to record it at no start-up cost
    (PREFECT_API_URL, or the server `bansos-merge server start` keeps); never with --no-prefect.
    Otherwise the run needs no server: the same driver runs on threads of this process."""
    if args.prefect is not None:
        if args.prefect is False and (args.dask_address or args.dask_workers):
            raise UserError("--dask-address and --dask-workers run the merge through Prefect: drop --no-prefect")
        return args.prefect
    if args.dask_address or args.dask_workers or os.environ.get("PREFECT_API_URL"):
        return True
    from pipelines.server import healthy, recorded_server

    recorded = recorded_server()
    return recorded is not None and healthy(recorded["api_url"])


def _run_here(args: argparse.Namespace, config) -> int:
    """The run on this process's threads, no Prefect server (run/driver.py)."""
    from ..run.driver import run_local

    log = _console_log(args.verbose)
    print("running here, without Prefect (a running `bansos-merge server start`, or --prefect, records runs in Prefect)", flush=True)
    try:
        final, _ = run_local(str(args.config), args.output, args.allow_shrink, log=log, incremental=args.incremental, retrain=args.retrain)
    except (UserError, KeyboardInterrupt, Terminated):
        raise
    except Exception as e:  # noqa: BLE001  (one line for the user; the traceback in the log)
        log.error("the run failed", exc_info=True)
        detail = f"{type(e).__name__}: {e}" if isinstance(e, OSError) else f"{type(e).__name__}; its traceback is above"
        raise RunFailed(f"the run failed ({detail}); nothing was published") from None
    _report(final, Path(config.output_dir))
    return _reading_warnings(final)


def _console_log(verbose: bool = False) -> logging.Logger:
    """The run's log on stderr, one line an event, in the shape Prefect's console uses; its
    debug lines (each unit of work done) with --verbose only."""
    log = logging.getLogger("bansos_merge.run")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d | %(levelname)-7s | %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    return log


def _quiet_prefect_console(verbose: bool) -> None:
    """Prefect logs each task's "Finished in state Completed()" at INFO: dozens of lines that
    bury the numbered stages and counts; and a user error (a bad file, a shrunk source) twice
    more, before this command reports it once. Those records go to Prefect's own log at debug
    level, and to the console only with --verbose. A task that fails or retries is logged as
    it was."""
    from prefect.logging.handlers import PrefectConsoleHandler

    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ToDebug) for f in logger.filters):
            logger.addFilter(_ToDebug())
    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler):
            handler.setLevel(logging.DEBUG if verbose else logging.INFO)


class _ToDebug(logging.Filter):
    """A task run's "Finished in state Completed()", and a flow run's record of a UserError
    (which the CLI reports itself), become DEBUG records."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        user_error = (record.exc_info and isinstance(record.exc_info[1], UserError)) or (
            message.startswith("Finished in state Failed(") and "UserError" in record.getMessage()
        )
        if (record.levelno == logging.INFO and message.startswith("Finished in state Completed(")) or user_error:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def _run_with_prefect(args: argparse.Namespace, config) -> int:
    """The run as a Prefect flow, on the Prefect API pipelines.server picks."""
    from pipelines.server import healthy, prefect_api

    from ..publish.run_folder import RUNS, new_run_id

    output, run_id, reporting = Path(config.output_dir), new_run_id(), threading.Lock()
    with prefect_api() as api:
        print(api.describe(), flush=True)
        from pipelines.merge_flow import describe_failure, run_merge

        _quiet_prefect_console(args.verbose)

        watching = _leave_once_published_without_prefect(api.url, output, run_id, reporting)
        try:
            outcome = run_merge(str(args.config), args.output, args.dask_address, args.dask_workers, args.allow_shrink, run_id,
                                args.incremental, args.retrain)
        finally:
            watching.set()
            args.prefect_lost = not healthy(api.url)
    reporting.acquire()
    late = describe_failure(outcome.late_error) if outcome.late_error is not None else None
    _report(output / RUNS / run_id, output, api.url if args.prefect_lost else None, late)
    return _reading_warnings(output / RUNS / run_id)


def _report(run_dir: Path, output: Path, lost_api: str | None = None, late: str | None = None) -> None:
    """What a published run prints; the warnings say what Prefect may not have recorded."""
    if lost_api:
        print(f"bansos-merge: warning: the Prefect API {lost_api} stopped answering during the run; "
              "Prefect's record of this run is incomplete", file=sys.stderr)  # fmt: skip
    print(f"run published: {run_dir}")
    print(f"latest: {output / 'latest'}")
    if late:
        print(f"bansos-merge: warning: the run was published; after that, {late} (Prefect may not show this flow run as completed)",
              file=sys.stderr)  # fmt: skip


def _leave_once_published_without_prefect(api_url: str, output: Path, run_id: str, reporting: threading.Lock) -> threading.Event:
    """Once the run is published (its folder settled) and the Prefect API is gone, all that is
    left is Prefect retrying to record the run's end, a minute or more per call: report the run
    and exit 0 then. Set the returned event to stop watching."""
    from pipelines.server import healthy

    from ..publish.run_folder import RUNS, settled

    done = threading.Event()

    def watch() -> None:
        while not done.wait(2.0):
            if settled(output, run_id) and not healthy(api_url) and reporting.acquire(blocking=False):
                _report(output / RUNS / run_id, output, api_url)
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(0)

    threading.Thread(target=watch, name="bansos-merge-watch-prefect", daemon=True).start()
    return done


def _reading_warnings(run_dir: Path) -> int:
    """What the readers noted, and any file whose rows disagree with its line count, on stderr;
    such a disagreement makes the exit code EXIT_ACCOUNTING (the run is published and says so)."""
    import json

    check = json.loads((run_dir / "manifest.json").read_text()).get("line_check", {})
    for line in check.get("notes", []):
        print(f"bansos-merge: warning: {line}", file=sys.stderr)
    for line in check.get("disagreements", []):
        print(f"bansos-merge: warning: accounting: {line}", file=sys.stderr)
    return EXIT_ACCOUNTING if check.get("disagreements") else 0
