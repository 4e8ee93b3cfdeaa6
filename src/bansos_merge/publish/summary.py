"""A short Markdown summary of a run, for the Prefect UI: counts only, no personal data."""

from __future__ import annotations


def run_summary_markdown(manifest: dict) -> str:
    t = manifest["totals"]
    lines = [
        f"# bansos-merge run `{manifest['run_id']}`",
        "",
        f"- rows read **{t['rows_read']:,}**, accepted **{t['accepted']:,}**, rejected **{t['rejected']:,}**"
        f" (accounting {'OK' if manifest['accounting_ok'] else 'FAILED'})",
        f"- persons **{manifest['persons']:,}**, links **{manifest['links']:,}**, review queue **{manifest['review_queue']:,}**",
        "",
        "| source | kind | read | accepted | rejected |",
        "|---|---|---:|---:|---:|",
    ]
    for s in manifest["sources"]:
        lines.append(f"| {s['source']} | {s['kind']} | {s['rows_read']:,} | {s['accepted']:,} | {s['rejected']:,} |")
    lines += ["", "| conflict kind | conflicts |", "|---|---:|"]
    lines += [f"| {kind} | {n:,} |" for kind, n in manifest["conflicts"].items()]
    return "\n".join(lines) + "\n"
