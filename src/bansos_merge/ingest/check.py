"""The independent count of a file's rows, and what the reader had to say about them.

The row accounting (rows read = accepted + rejected) proves that no row was lost after it was
read; it cannot see a row the reader never made. So each file's rows are also counted apart
from the parser: a CSV file's physical lines below the header (a line break inside a quoted
value joins two lines into one row, and is counted), an Excel sheet's rows below the header.
A disagreement is stated in the manifest and on the console, never hidden. Notes and
disagreements name files and row numbers only, never values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LISTED_ROWS = 20  # row numbers listed per note; the count is always complete


@dataclass
class FileCheck:
    """What one file's reader counted beside its parser; filled while the file is read."""

    format: str  # csv | excel
    data_lines: int = 0  # CSV: physical lines below the header; Excel: sheet rows below the header
    lines_in_values: int = 0  # CSV: line breaks inside quoted values (a row spanning lines)
    rows_read: int = 0  # rows the reader gave out (set by whoever consumed them)
    encoding: str | None = None
    stray_quote_rows: list[int] = field(default_factory=list)  # read line by line, the quote kept as typed
    cp1252_rows: list[int] = field(default_factory=list)  # bytes that were not UTF-8, read as cp1252

    @property
    def agrees(self) -> bool:
        return self.rows_read + self.lines_in_values == self.data_lines

    def as_dict(self) -> dict:
        out = {
            "format": self.format,
            "data_lines": self.data_lines,
            "lines_in_values": self.lines_in_values,
            "rows_read": self.rows_read,
            "agrees": self.agrees,
        }
        if self.encoding:
            out["encoding"] = self.encoding
        for key, rows in (("stray_quote_rows", self.stray_quote_rows), ("cp1252_rows", self.cp1252_rows)):
            if rows:
                out[key] = {"count": len(rows), "rows": sorted(rows)[:LISTED_ROWS]}
        return out


def _rows(entry: dict) -> str:
    listed = ", ".join(str(r) for r in entry["rows"])
    return listed + (f" and {entry['count'] - len(entry['rows'])} more" if entry["count"] > len(entry["rows"]) else "")


def file_messages(source: str, file_entry: dict) -> tuple[list[str], list[str]]:
    """(disagreements, notes) about one file of the manifest, as console lines without values."""
    check = file_entry.get("check")
    if not check:
        return [], []
    where = f"source '{source}', file {file_entry['path']}"
    disagreements, notes = [], []
    if not check["agrees"]:
        unit = "physical lines below the header" if check["format"] == "csv" else "sheet rows below the header"
        inside = f" + {check['lines_in_values']} line breaks inside quoted values" if check["lines_in_values"] else ""
        disagreements.append(
            f"{where}: {check['rows_read']} rows read{inside}, but the file has {check['data_lines']} {unit}; "
            "rows may be missing or merged (a bug in the reader: please report it with the file's row numbers)"
        )
    if "stray_quote_rows" in check:
        notes.append(
            f"{where}: a quote (\") typed into a value made rows {_rows(check['stray_quote_rows'])} unreadable as CSV; "
            "they were read line by line, the quote kept as a character"
        )
    if "cp1252_rows" in check:
        notes.append(f"{where}: rows {_rows(check['cp1252_rows'])} hold bytes that are not UTF-8; they were read as cp1252")
    return disagreements, notes


def manifest_messages(sources: list[dict]) -> tuple[list[str], list[str]]:
    """(disagreements, notes) of every file of every source in the manifest's `sources`."""
    disagreements, notes = [], []
    for s in sources:
        for entry in s.get("files", []):
            d, n = file_messages(s["source"], entry)
            disagreements += d
            notes += n
    return disagreements, notes
