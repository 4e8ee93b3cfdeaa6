"""The published schemas in `schemas/`, generated from the pydantic models.

* `merge-config.schema.json`: JSON Schema of `merge.yaml` (MergeConfig);
* for each output in `contracts.OUTPUTS`: `<name>.schema.json` (JSON Schema of one row, with
  `version` = SCHEMA_VERSION and an `$id`) and `<name>.arrow.json` (the Arrow schema of the
  Parquet file: field names, Arrow types, nullability, file metadata).

    python -m bansos_merge.schemas            # regenerate schemas/
    python -m bansos_merge.schemas --check    # exit 1 with a summary if schemas/ is stale

A test keeps the committed files equal to what this module generates.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

import pyarrow as pa

from .config import MergeConfig
from .contracts import OUTPUTS, SCHEMA_VERSION, arrow_schema

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
CONFIG_FILE = "merge-config.schema.json"


def default_dir() -> Path:
    """`schemas/` of the source checkout (src layout), else `./schemas`."""
    repo = Path(__file__).resolve().parents[2]
    return repo / "schemas" if (repo / "pyproject.toml").is_file() else Path("schemas")


def schema_id(name: str) -> str:
    return f"urn:bansos-merge:schema:{name}:{SCHEMA_VERSION}"


def arrow_type_name(t: pa.DataType) -> str:
    """Arrow type as a string; lists without their item field name (Parquet renames it)."""
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"list<{arrow_type_name(t.value_type)}>"
    return str(t)


def arrow_json(schema: pa.Schema) -> dict:
    return {
        "fields": [
            {"name": f.name, "type": arrow_type_name(f.type), "nullable": f.nullable} for f in schema
        ],
        "metadata": {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()},
    }


def render() -> dict[str, str]:
    """File name -> content of every generated schema file."""
    config = MergeConfig.model_json_schema(mode="validation")
    files = {CONFIG_FILE: {"$schema": JSON_SCHEMA_DIALECT, "$id": "urn:bansos-merge:schema:merge-config", **config}}
    for name, model in OUTPUTS.items():
        files[f"{name}.schema.json"] = {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": schema_id(name),
            "version": SCHEMA_VERSION,
            **model.model_json_schema(mode="serialization"),
        }
        files[f"{name}.arrow.json"] = {
            "version": SCHEMA_VERSION,
            "contract": model.__name__,
            **arrow_json(arrow_schema(model)),
        }
    return {name: json.dumps(doc, indent=2, ensure_ascii=False) + "\n" for name, doc in files.items()}


def generate(out_dir: Path) -> list[Path]:
    """Write every schema file into `out_dir`; return the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(out_dir: Path) -> list[str]:
    """What differs between `out_dir` and the generated files (empty: up to date)."""
    out_dir = Path(out_dir)
    wanted = render()
    problems = []
    for name, text in wanted.items():
        path = out_dir / name
        if not path.is_file():
            problems.append(f"missing: {path}")
            continue
        have = path.read_text(encoding="utf-8")
        if have != text:
            diff = list(difflib.unified_diff(have.splitlines(), text.splitlines(), f"{path} (committed)", f"{name} (generated)", lineterm="", n=1))
            shown = "\n".join("    " + line for line in diff[:20])
            more = f"\n    ... {len(diff) - 20} more diff lines" if len(diff) > 20 else ""
            problems.append(f"differs: {path}\n{shown}{more}")
    generated_like = {p.name for p in out_dir.glob("*.schema.json")} | {p.name for p in out_dir.glob("*.arrow.json")}
    for name in sorted(generated_like - wanted.keys()):
        problems.append(f"not generated any more (remove it): {out_dir / name}")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bansos_merge.schemas", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="do not write; exit 1 if the files are stale")
    p.add_argument("--out", type=Path, default=None, help="schema folder (default: the checkout's schemas/)")
    args = p.parse_args(argv)
    out = args.out or default_dir()
    if args.check:
        problems = stale(out)
        if problems:
            print(f"schemas in {out} are stale ({len(problems)} file(s)); run `python -m bansos_merge.schemas`:")
            print("\n".join(problems))
            return 1
        print(f"schemas in {out} are up to date")
        return 0
    for path in generate(out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
