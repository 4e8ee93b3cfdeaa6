"""`bansos-merge` command line. User errors end with one message and exit code 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import UserError

EXIT_USER_ERROR = 2
EXIT_ACCOUNTING = 3  # the run was published, but a file's rows disagree with its independent count


def _run(args: argparse.Namespace) -> int:
    from .config import load_config
    from .ingest.source import preflight

    # Validate before Prefect starts: a wrong config fails in a second, not after a server start.
    config = load_config(args.config, args.output)
    preflight(config)
    from pipelines.merge_flow import run_merge

    run_dir = run_merge(str(args.config), args.output, args.dask_address, args.dask_workers)
    print(f"run published: {run_dir}")
    print(f"latest: {Path(config.output_dir) / 'latest'}")
    return _reading_warnings(Path(run_dir))


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
    import os

    from .config import load_config
    from .ingest.source import preflight

    config_path = args.config.resolve()
    preflight(load_config(config_path))
    if not os.environ.get("PREFECT_API_URL"):
        raise UserError(
            "serve needs a running Prefect server to hold the schedule: start one with "
            "`prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api (see README)"
        )
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
    from pipelines.merge_flow import run_merge

    result = simulate_review(Path(config), Path(args.truth), args.simulate_review, args.rounds, work, lambda c: Path(run_merge(str(c))))
    print(format_simulation(result))
    if args.json:
        write_report(result, Path(args.json))
        print(f"JSON written to {args.json}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from .config import load_config
    from .explain import explain_pair, format_explanation

    if args.output is None and args.config is None:
        raise UserError("explain needs --output DIR (the merge's output directory) or --config merge.yaml")
    output = Path(args.output) if args.output else Path(load_config(args.config).output_dir)
    result = explain_pair(output, args.left, args.right, show_full_nik=args.show_nik)
    print(format_explanation(result, args.left, args.right))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bansos-merge", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="merge the configured sources (a Prefect flow)")
    run.add_argument("--config", required=True, type=Path, help="merge.yaml")
    run.add_argument("--output", type=Path, help="override output_dir")
    dask = run.add_mutually_exclusive_group()
    dask.add_argument("--dask-address", help="run the mapped tasks on an existing Dask cluster (tcp://HOST:PORT)")
    dask.add_argument("--dask-workers", type=int, help="run them on a local Dask cluster of N worker processes")
    run.set_defaults(func=_run)

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
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as e:
        print(f"bansos-merge: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("bansos-merge: interrupted; nothing was published", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
