"""`bansos-merge` command line. User errors end with one message and exit code 2."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from .errors import RunFailed, Terminated, UserError

EXIT_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_ACCOUNTING = 3  # the run was published, but a file's rows disagree with its independent count
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


def _terminate(signum, frame) -> None:
    raise Terminated()


def _run(args: argparse.Namespace) -> int:
    from .config import load_config
    from .ingest.source import preflight

    # SIGTERM (a service manager, `kill`) stops a run as Ctrl-C does: cleaned up, nothing left.
    signal.signal(signal.SIGTERM, _terminate)
    config = load_config(args.config, args.output)
    if not _with_prefect(args):
        return _run_here(args, config)  # the driver's first step is the same check
    preflight(config)  # a wrong config or file fails in a second, not after a server start
    return _run_with_prefect(args, config)


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
    from .run.driver import run_local

    log = _console_log()
    print("running here, without Prefect (a running `bansos-merge server start`, or --prefect, records runs in Prefect)", flush=True)
    try:
        final, _ = run_local(str(args.config), args.output, args.allow_shrink, log=log)
    except (UserError, KeyboardInterrupt, Terminated):
        raise
    except Exception as e:  # noqa: BLE001  (one line for the user; the traceback in the log)
        log.error("the run failed", exc_info=True)
        detail = f"{type(e).__name__}: {e}" if isinstance(e, OSError) else f"{type(e).__name__}; its traceback is above"
        raise RunFailed(f"the run failed ({detail}); nothing was published") from None
    _report(final, Path(config.output_dir))
    return _reading_warnings(final)


def _console_log():
    """The run's log on stderr, one line an event, in the shape Prefect's console uses."""
    import logging

    log = logging.getLogger("bansos_merge.run")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d | %(levelname)-7s | %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def _run_with_prefect(args: argparse.Namespace, config) -> int:
    """The run as a Prefect flow, on the Prefect API pipelines.server picks."""
    from pipelines.server import healthy, prefect_api

    from .publish.run_folder import RUNS, new_run_id

    output, run_id, reporting = Path(config.output_dir), new_run_id(), threading.Lock()
    with prefect_api() as api:
        print(api.describe(), flush=True)
        from pipelines.merge_flow import describe_failure, run_merge

        watching = _leave_once_published_without_prefect(api.url, output, run_id, reporting)
        try:
            outcome = run_merge(str(args.config), args.output, args.dask_address, args.dask_workers, args.allow_shrink, run_id)
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

    from .publish.run_folder import RUNS, settled

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


def _server(args: argparse.Namespace) -> int:
    from pipelines import server

    if args.action == "start":
        state, started = server.start_server()
        print(f"Prefect server {'started' if started else 'already running'}: {state['ui_url']} (pid {state['pid']}); "
              "`bansos-merge run` and `serve` use it")  # fmt: skip
        print(f"for prefect's own commands: export PREFECT_API_URL={state['api_url']}")
        return 0
    if args.action == "stop":
        state = server.stop_server()
        print(f"stopped the Prefect server on port {state['port']} (pid {state['pid']})" if state else "no Prefect server was running")
        return 0
    state = server.recorded_server()
    if state is None or not server.healthy(state["api_url"]):
        print("not running" if state is None else f"pid {state['pid']} runs, but {state['api_url']} does not answer")
        return 1
    print(f"running: {state['ui_url']} (pid {state['pid']}, since {state['started_at']}; log {state['log']})")
    print(f"export PREFECT_API_URL={state['api_url']}")
    return 0


def _output_dir(args: argparse.Namespace) -> Path:
    """The merge's output directory, from --output or from --config's output_dir."""
    from .config import load_config

    if args.output is None and args.config is None:
        raise UserError(f"{args.command} needs --output DIR (the merge's output directory) or --config merge.yaml")
    return Path(args.output) if args.output else Path(load_config(args.config).output_dir)


def _clean(args: argparse.Namespace) -> int:
    from .publish.run_folder import clean

    output = _output_dir(args)
    removed = clean(output)
    for name, size in removed:
        print(f"removed {output / 'runs' / name} ({size / 1e6:.1f} MB)")
    if not removed:
        print(f"nothing to clean in {output}")
    return 0


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


def _serve(args: argparse.Namespace) -> int:

    from .config import load_config
    from .ingest.source import preflight

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
        parameters={"config_path": str(config_path)},
        tags=["bansos-merge"],
    )
    return 0


def _sample(args: argparse.Namespace) -> int:
    from .sample.generate import generate_sample

    if args.people < 10:
        raise UserError("--people must be at least 10")
    summary = generate_sample(args.people, args.seed, Path(args.out))
    print(f"wrote synthetic extracts for {args.people} people (seed {args.seed}) to {args.out}")
    for name, info in summary["sources"].items():
        print(f"  {info['file']:<50} {info['rows']:>9,} rows")
    print("  planted conditions: " + ", ".join(f"{k} {v}" for k, v in summary["conditions"].items()))
    print(f"  ground truth in {Path(args.out) / 'truth'}; merge with: bansos-merge run --config {Path(args.out) / 'merge.yaml'}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate.score import evaluate_run, format_report, write_report

    if args.simulate_review is not None:
        return _simulate(args)
    if args.truth is None and args.labels is None:
        raise UserError("evaluate needs --truth DIR (synthetic truth) or --labels FILE (analysts' pairs)")
    result = evaluate_run(Path(args.run), Path(args.truth) if args.truth else None, Path(args.labels) if args.labels else None)
    print(format_report(result))
    if args.json:
        write_report(result, Path(args.json))
        print(f"JSON written to {args.json}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import json

    from .evaluate.score import resolve_run_dir, write_report
    from .evaluate.simulate import format_simulation, simulate_review

    if args.truth is None:
        raise UserError("--simulate-review answers from the truth: give --truth DIR")
    run = resolve_run_dir(args.run)
    config = args.config or Path(json.loads((run / "manifest.json").read_text(encoding="utf-8"))["config_path"])
    work = Path(args.to) if args.to else Path(args.run) / "simulate-review"
    from pipelines.server import prefect_api

    with prefect_api() as api:
        print(api.describe(), flush=True)
        from pipelines.merge_flow import run_merge

        result = simulate_review(
            Path(config), Path(args.truth), args.simulate_review, args.rounds, work, lambda c: Path(run_merge(str(c)).run_dir)
        )
    print(format_simulation(result))
    if args.json:
        write_report(result, Path(args.json))
        print(f"JSON written to {args.json}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from .explain import explain_pair, format_explanation

    result = explain_pair(_output_dir(args), args.left, args.right, show_full_nik=args.show_nik)
    print(format_explanation(result, args.left, args.right))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bansos-merge", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="merge the configured sources (a Prefect flow)")
    run.add_argument("--config", required=True, type=Path, help="merge.yaml")
    run.add_argument("--output", type=Path, help="override output_dir")
    run.add_argument(
        "--prefect", action=argparse.BooleanOptionalAction, default=None,
        help="run as a Prefect flow (default: when a Prefect server is running: PREFECT_API_URL, or `bansos-merge server start`'s; "
        "--no-prefect: never)",
    )
    dask = run.add_mutually_exclusive_group()
    dask.add_argument("--dask-address", help="run the mapped tasks on an existing Dask cluster (tcp://HOST:PORT)")
    dask.add_argument("--dask-workers", type=int, help="run them on a local Dask cluster of N worker processes")
    run.add_argument(
        "--allow-shrink",
        action="store_true",
        help="publish even if a source lost more than half its rows since the previous run, or is gone",
    )
    run.set_defaults(func=_run)

    server = sub.add_parser("server", help="a long-lived local Prefect server that runs reuse (start|stop|status)")
    server.add_argument("action", choices=("start", "stop", "status"))
    server.set_defaults(func=_server)

    clean = sub.add_parser("clean", help="remove the half-written folders of crashed or killed runs")
    clean.add_argument("--output", help="the merge's output directory")
    clean.add_argument("--config", type=Path, help="or: merge.yaml, to find the output directory")
    clean.set_defaults(func=_clean)

    serve = sub.add_parser("serve", help="run the merge on a cron schedule (needs a Prefect server)")
    serve.add_argument("--config", required=True, type=Path, help="merge.yaml")
    serve.add_argument("--cron", default="0 2 * * *", help="cron schedule (default: daily at 02:00)")
    serve.add_argument("--timezone", default="Asia/Jakarta", help="time zone of the schedule")
    serve.add_argument("--name", default="scheduled-merge", help="deployment name")
    serve.set_defaults(func=_serve)

    sample = sub.add_parser("sample", help="write synthetic agency extracts with ground truth")
    sample.add_argument("--people", type=int, default=3000)
    sample.add_argument("--seed", type=int, default=1)
    sample.add_argument("--out", required=True, type=Path)
    sample.set_defaults(func=_sample)

    ev = sub.add_parser("evaluate", help="score a run against synthetic truth or labelled pairs")
    ev.add_argument("--run", required=True, help="output dir (uses latest) or a run folder")
    ev.add_argument("--truth", help="sample folder (or its truth/)")
    ev.add_argument("--labels", help="CSV/Parquet of labelled pairs: left, right, decision")
    ev.add_argument("--json", help="also write the scores as JSON here")
    ev.add_argument("--simulate-review", type=int, metavar="N", help="answer the first N queue items from the truth, merge again, score")
    ev.add_argument("--rounds", type=int, default=1, help="with --simulate-review: how many rounds (default 1)")
    ev.add_argument("--config", type=Path, help="with --simulate-review: merge.yaml (default: the one the run used)")
    ev.add_argument("--to", help="with --simulate-review: its work folder (default RUN/simulate-review)")
    ev.set_defaults(func=_evaluate)
    from .review.cli import register as register_review

    register_review(sub)

    ex = sub.add_parser("explain", help="show the evidence for or against linking two records")
    ex.add_argument("left", help="SOURCE:RECORD_ID")
    ex.add_argument("right", help="SOURCE:RECORD_ID")
    ex.add_argument("--output", help="the merge's output directory (uses latest)")
    ex.add_argument("--config", type=Path, help="or: merge.yaml, to find the output directory")
    ex.add_argument("--show-nik", action="store_true", help="show NIK and KK in full (default: masked)")
    ex.set_defaults(func=_explain)
    from .match.cli import register as register_match

    register_match(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code = _dispatch(args)
    if getattr(args, "prefect_lost", False):
        # The run is over and reported. At exit Prefect would retry each queued log and event
        # against its dead API, about 7 s apiece: minutes. Leave now instead.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except UserError as e:
        print(f"bansos-merge: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except RunFailed as e:
        print(f"bansos-merge: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        return 0
    except Terminated:
        print("bansos-merge: terminated; nothing was published", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("bansos-merge: interrupted; nothing was published", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
