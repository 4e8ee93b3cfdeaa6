"""`bansos-merge` command line: the parser and the small commands.

A user error ends with one message and exit code 2 (see _dispatch)."""

# `run`, `server` and `serve` are in commands/, `review` and `review-users` in review/cli.py,
# `decisions` in decisions/cli.py.

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .commands.run import run as _run
from .commands.server import serve as _serve
from .commands.server import server as _server
from .errors import RunFailed, Terminated, UserError

EXIT_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


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
    from .evaluate.score import evaluate_run, write_report
    from .evaluate.text import format_report

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

    from .evaluate.inputs import resolve_run_dir
    from .evaluate.score import write_report
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


DESCRIPTION = (
    "Merge Indonesian social-assistance recipient lists (Dukcapil, Kemensos, regional Excel files) into one "
    "registry of persons, and show where the lists disagree. Start with `bansos-merge run --config merge.yaml`; "
    "`bansos-merge COMMAND --help` explains each command."
)


class _Version(argparse.Action):
    """`--version`: the package's version and the outputs' contract version, imported only when asked."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_text())
        parser.exit()


def version_text() -> str:
    """One line: the installed version and SCHEMA_VERSION, the contract of the files a run writes."""
    from importlib.metadata import PackageNotFoundError, version

    from .contracts import SCHEMA_VERSION

    try:
        installed = version("bansos-merge")
    except PackageNotFoundError:
        installed = "not installed"
    return f"bansos-merge {installed} (output schema {SCHEMA_VERSION})"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bansos-merge", description=DESCRIPTION)
    p.add_argument("--version", action=_Version, help="show the version and the outputs' schema version, and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="merge the configured sources into a new published run (here, or as a Prefect flow)")
    run.add_argument("--config", required=True, type=Path, help="merge.yaml: the sources and settings (see README)")
    run.add_argument("--output", type=Path, help="output directory (default: the config's output_dir)")
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
    run.add_argument(
        "--incremental", action="store_true",
        help="start from the latest run in the output directory: read only changed sources, compare only new or changed "
        "records (README, \"Incremental runs\"); falls back to a full run, saying why, when that run cannot serve",
    )
    run.add_argument(
        "--retrain", action="store_true",
        help="with --incremental: train the model afresh, u-probabilities too, instead of reusing the previous run's u",
    )
    run.add_argument(
        "--verbose", action="store_true",
        help="also show each unit of work as it finishes (Prefect's per-task lines); default: the numbered stages and counts",
    )
    run.set_defaults(func=_run)

    server = sub.add_parser("server", help="a long-lived local Prefect server that runs reuse (start|stop|status)")
    server.add_argument("action", choices=("start", "stop", "status"), help="start one, stop it, or say whether it runs")
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
    serve.add_argument("--incremental", action="store_true", help="each scheduled run incremental (see `run --incremental`)")
    serve.set_defaults(func=_serve)

    sample = sub.add_parser("sample", help="write synthetic agency extracts with ground truth")
    sample.add_argument("--people", type=int, default=3000, help="how many synthetic people (at least 10; default 3000)")
    sample.add_argument("--seed", type=int, default=1, help="random seed: the same seed writes the same files (default 1)")
    sample.add_argument("--out", required=True, type=Path, help="folder for the extracts, merge.yaml and truth/ (created)")
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
    from .decisions.cli import register as register_decisions
    from .review.cli import register as register_review

    register_review(sub)
    register_decisions(sub)

    ex = sub.add_parser("explain", help="show the evidence for or against linking two records")
    ex.add_argument("left", help="SOURCE:RECORD_ID")
    ex.add_argument("right", help="SOURCE:RECORD_ID")
    ex.add_argument("--output", help="the merge's output directory (uses latest)")
    ex.add_argument("--config", type=Path, help="or: merge.yaml, to find the output directory")
    ex.add_argument("--show-nik", action="store_true", help="show NIK and KK in full (default: masked)")
    ex.set_defaults(func=_explain)
    from .match.cli import register as register_match

    register_match(sub)
    _describe(sub)
    return p


def _describe(sub: argparse._SubParsersAction) -> None:
    """Each command's --help opens with the line the top-level help gives it."""
    for choice in sub._choices_actions:
        parser = sub.choices[choice.dest]
        parser.description = parser.description or choice.help
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _describe(action)


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
