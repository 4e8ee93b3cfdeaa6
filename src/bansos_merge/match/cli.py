"""`bansos-merge match`: is each person of a list already known to the latest run?

    bansos-merge match --output OUT --input proposals.xlsx --columns nik=NIK,name=NAMA,birth_date=TGL_LAHIR
    bansos-merge match --output OUT --input proposals.xlsx --source-config proposals.yaml [--to DIR]

Writes match_results.xlsx and match_results.parquet next to the input (or into --to); the run
and its registry are only read. Prints counts, never a name or a NIK.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import UserError

EXIT_ACCOUNTING = 3  # as `bansos-merge run`: written, but a file's rows disagree with its own count


def register(sub) -> None:
    """Add the `match` subcommand to the main parser's subparsers."""
    p = sub.add_parser("match", help="is this person already known? link a list against the latest run (read only)")
    p.add_argument("--output", type=Path, help="the merge's output directory (its latest run)")
    p.add_argument("--config", type=Path, help="or: merge.yaml, to find the output directory")
    p.add_argument("--input", required=True, type=Path, help="the list to check: one CSV or Excel file")
    mapping = p.add_mutually_exclusive_group(required=True)
    mapping.add_argument(
        "--source-config", type=Path,
        help="YAML: one source entry as in merge.yaml (columns, id_column, sheet, header_row, date_order ...); its path is --input",
    )  # fmt: skip
    mapping.add_argument("--columns", help="or the mapping itself: FIELD=HEADER,... e.g. nik=NIK,name=NAMA,birth_date=TGL_LAHIR")
    p.add_argument("--to", type=Path, help="folder for match_results.xlsx and .parquet (default: the input's folder)")
    p.set_defaults(func=run_match)


def _output_dir(args: argparse.Namespace) -> Path:
    if args.output is not None:
        return args.output
    if args.config is None:
        raise UserError("match needs --output DIR (the merge's output directory) or --config merge.yaml")
    from ..config import load_config

    return Path(load_config(args.config).output_dir)


def run_match(args: argparse.Namespace) -> int:
    from .inputs import read_input, source_from_columns, source_from_config
    from .latest import load_latest
    from .output import write_results
    from .results import counts
    from .service import match_rows

    started = time.perf_counter()
    src = source_from_config(args.source_config, args.input) if args.source_config else source_from_columns(args.columns, args.input)
    output = _output_dir(args)
    run = load_latest(output)  # the run first: a missing run fails before the list is read
    inputs = read_input(src)
    rows = match_rows(run, inputs)
    if len(rows) != inputs.rows:  # every row of the list has its answer (a bug otherwise)
        raise RuntimeError(f"{inputs.rows} rows read but {len(rows)} answered")
    xlsx, parquet = write_results(rows, Path(args.to) if args.to else Path(args.input).parent, run.run_id, Path(args.input).name)
    summary = ", ".join(f"{n:,} {status}" for status, n in counts(rows).items())
    print(f"{len(rows):,} rows of {args.input} against run {run.run_id}: {summary} ({time.perf_counter() - started:.1f} s)")
    print(f"wrote {xlsx}")
    print(f"wrote {parquet}")
    return _reading_warnings(src.name, inputs.files)


def _reading_warnings(source: str, files: list[dict]) -> int:
    """What the reader noted, on stderr, as a run prints it; a file whose rows disagree with its
    own count of lines makes the exit code 3 (the answers are written, and say what was read)."""
    import sys

    from ..ingest.check import file_messages

    disagreements = []
    for entry in files:
        found, notes = file_messages(source, entry)
        disagreements += found
        for line in notes:
            print(f"bansos-merge: warning: {line}", file=sys.stderr)
    for line in disagreements:
        print(f"bansos-merge: warning: accounting: {line}", file=sys.stderr)
    return EXIT_ACCOUNTING if disagreements else 0
