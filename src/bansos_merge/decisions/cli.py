"""`bansos-merge decisions export|check`, and where the commands over the decisions store find it.

`locate`: `--output DIR` (the merge's output directory; the store is `DIR/state/review.sqlite`),
or `--config merge.yaml` (its output_dir and state_dir); `--state-dir` overrides either. The
review app's commands (`review/cli.py`) find the store the same way.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from ..errors import UserError


def location_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", type=Path, help="the merge's output directory (the review uses its latest run)")
    p.add_argument("--config", type=Path, help="or: merge.yaml, for output_dir and state_dir")
    p.add_argument("--state-dir", type=Path, help="where review.sqlite lives (default: OUTPUT/state, or the config's state_dir)")


def locate(args: argparse.Namespace, need_output: bool = False) -> tuple[Path | None, Path]:
    """(output_dir, state_dir) from --output / --config / --state-dir; output_dir is None
    when only --state-dir is given (enough for users and export)."""
    output = getattr(args, "output", None)
    config = getattr(args, "config", None)
    state = getattr(args, "state_dir", None)
    if config is not None:
        from ..config import load_config

        cfg = load_config(config, output)
        output_dir, state_dir = Path(cfg.output_dir), cfg.state_path
    elif output is not None:
        output_dir, state_dir = Path(output), Path(output) / "state"
    elif state is not None and not need_output:
        return None, Path(state)
    else:
        raise UserError("give --output DIR (the merge's output directory) or --config merge.yaml")
    return output_dir, Path(state) if state is not None else state_dir


def _decisions_export(args: argparse.Namespace) -> int:
    from .export import export_decisions

    _, state_dir = locate(args)
    try:
        user = "cli:" + getpass.getuser()
    except (KeyError, OSError):
        user = "cli"
    n = export_decisions(state_dir, Path(args.to), args.format, user=user, history=args.history)
    print(f"{n} decision{'s' if n != 1 else ''} written to {args.to}")
    return 0


def _decisions_check(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..publish.run_folder import latest_run
    from .constraints import constraints, load_decisions

    output_dir, state_dir = locate(args, need_output=True)
    folder = latest_run(output_dir)
    if folder is None or not (folder / "records.parquet").exists():
        raise UserError(f"{output_dir}: no published run here")
    records = pd.read_parquet(folder / "records.parquet")
    ml, cl, report = constraints(load_decisions(state_dir), records)
    print(f"decisions against run {folder.name}: {report['decisions']} current")
    print(f"  would apply: {report['applied_same']} same person (must-link), {report['applied_different']} different people (cannot-link)")
    print(f"  not sure: {report['unsure']}")
    print(
        f"  stale: {report['stale_count']} ({report['stale_record_missing']} record missing, "
        f"{report['stale_record_changed']} record changed)"
    )
    for s in report["stale"][:20]:
        print(f"    {s['left']} | {s['right']}: {s['decision']}, {s['why']}")
    if report["contradictions"]:
        print(f"  contradictions: {len(report['contradictions'])} 'different' pairs joined by a chain of 'same' decisions")
        for c in report["contradictions"][:20]:
            print(f"    {c['left']} | {c['right']}")
    return 0


def register(subparsers) -> None:
    """Add `decisions` to the main parser's subparsers."""
    dc = subparsers.add_parser("decisions", help="analysts' decisions: export, check against the latest run")
    dc_sub = dc.add_subparsers(dest="decisions_command", required=True)
    ex = dc_sub.add_parser("export", help="write the current decisions as Parquet or CSV (readable by evaluate --labels)")
    location_args(ex)
    ex.add_argument("--format", choices=("parquet", "csv"), help="default: from the --to suffix, else parquet")
    ex.add_argument("--to", required=True, type=Path, help="the file to write")
    ex.add_argument("--history", action="store_true", help="the whole append-only log, not only the current decisions")
    ex.set_defaults(func=_decisions_export)
    ck = dc_sub.add_parser("check", help="how the decisions apply to the latest run: applied, stale, contradictions")
    location_args(ck)
    ck.set_defaults(func=_decisions_check)
