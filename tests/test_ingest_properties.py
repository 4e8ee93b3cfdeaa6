"""Properties of the CSV reader over generated files (hypothesis): valid rows with stray quotes,
quoted delimiters, NUL bytes, extra fields, blank lines and trailing delimiters injected, in
every dialect (delimiter, line ending) and encoding the readers accept. Every row must be read
or rejected at its own row number, with what was written in it, read whole or streamed in
small slices alike, and the file's line count must agree with the rows read."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from conftest import make_source, physical_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bansos_merge.ingest.csv_reader import csv_slices
from bansos_merge.ingest.source import read_source

DELIMITERS = [",", ";", "|", "\t"]
NEWLINES = ["\n", "\r\n", "\r"]
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "utf-16"]
NAME_CHARS = "ABDEGIJKLMNORSTUWYÉ "
KINDS = ["plain", "plain", "plain", "stray_start", "stray_end", "stray_mid", "quoted_delimiter", "trailing", "extra", "blank", "nul"]


@dataclass
class Row:
    kind: str
    nik: str
    name: str
    address: str

    def written_name(self) -> str:
        n = self.name
        return {"stray_start": '"' + n, "stray_end": n + '"', "stray_mid": n[:1] + '"' + n[1:], "nul": n[:1] + "\x00" + n[1:]}.get(self.kind, n)

    def line(self, d: str, extra_columns: int) -> str:
        """The row as written to the file."""
        if self.kind == "blank":
            return ""
        address = f'"{self.address}{d} ""B"""' if self.kind == "quoted_delimiter" else self.address
        cells = [self.nik, self.written_name(), address] + [f"K{i}" for i in range(extra_columns)]
        return d.join(cells) + {"trailing": d, "extra": d + "X"}.get(self.kind, "")

    def cells(self, d: str, extra_columns: int) -> list[str]:
        """What the reader must give for a row it reads: a stray quote kept as typed."""
        if self.kind == "blank":
            return [""] * (3 + extra_columns)
        address = f'{self.address}{d} "B"' if self.kind == "quoted_delimiter" else self.address
        return [self.nik, self.written_name(), address] + [f"K{i}" for i in range(extra_columns)]


@st.composite
def files(draw):
    n = draw(st.integers(1, 30))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n))
    # At most 3 NUL bytes: a file that is mostly control bytes is binary, which is another test.
    kinds = [k if k != "nul" or kinds[:i].count("nul") < 3 else "plain" for i, k in enumerate(kinds)]
    rows = [
        Row(
            kind,
            f"3201{draw(st.integers(10**11, 10**12 - 1))}",
            draw(st.text(NAME_CHARS, min_size=2, max_size=12).filter(lambda s: s.strip() == s and "  " not in s)),
            f"JL {draw(st.text('ABCMRW', min_size=1, max_size=8))}",
        )
        for kind in kinds
    ]
    return {
        "rows": rows,
        "delimiter": draw(st.sampled_from(DELIMITERS)),
        "newline": draw(st.sampled_from(NEWLINES)),
        "encoding": draw(st.sampled_from(ENCODINGS)),
        "extra_columns": draw(st.integers(0, 2)),
        "titles": draw(st.integers(0, 2)),
        "final_newline": draw(st.booleans()),
    }


def _write(tmp_path, spec, name: str = "gen.csv"):
    d, nl, k = spec["delimiter"], spec["newline"], spec["extra_columns"]
    header = d.join(["NIK", "NAMA", "ALAMAT"] + [f"KET{i}" for i in range(k)])
    lines = [f"DAFTAR PENERIMA {i}" for i in range(spec["titles"])] + [header] + [r.line(d, k) for r in spec["rows"]]
    text = nl.join(lines) + (nl if spec["final_newline"] or spec["rows"][-1].kind == "blank" else "")
    path = tmp_path / name
    path.write_bytes(text.encode(spec["encoding"]))
    return path, text, spec["titles"] + 1


def _expect(spec) -> tuple[dict[int, list[str]], dict[int, str]]:
    """Row number -> cells of a row read, and row number -> reason code of a row rejected."""
    read, rejected = {}, {}
    for i, row in enumerate(spec["rows"], start=1):
        if row.kind == "nul":
            rejected[i] = "nul_byte"
        elif row.kind == "extra":
            rejected[i] = "field_count"
        else:
            read[i] = row.cells(spec["delimiter"], spec["extra_columns"])
    return read, rejected


def _got(tables) -> tuple[dict[int, list[str]], dict[int, str]]:
    read, rejected = {}, {}
    for t in tables:
        for number, cells in zip(t.row_number.tolist(), t.cells.itertuples(index=False)):
            assert number not in read, f"row {number} read twice"
            read[number] = list(cells)
        for number, code in zip(t.bad_rows["row_number"].tolist(), t.bad_rows["reason_code"].tolist()):
            assert number not in rejected and number not in read, f"row {number} given twice"
            rejected[number] = code
    return read, rejected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=files(), slice_rows=st.sampled_from([None, 1, 4]), block_bytes=st.sampled_from([1 << 24, 2048]))
def test_every_row_is_read_or_rejected_at_its_own_number(tmp_path, spec, slice_rows, block_bytes):
    path, text, header_lines = _write(tmp_path, spec)
    src = make_source(path, {"nik": "NIK", "name": "NAMA", "address": "ALAMAT"})
    expected = _expect(spec)
    n = len(spec["rows"])

    whole = read_source(src)
    assert _got(whole.tables) == expected
    check = whole.files[0]["check"]
    data_lines = physical_lines(text) - header_lines
    assert data_lines == n
    assert (check["data_lines"], check["rows_read"], check["lines_in_values"], check["agrees"]) == (n, n, 0, True)

    streamed = list(csv_slices(path, src, slice_rows, block_bytes))
    assert _got(streamed) == expected
    assert all(len(t.cells) <= (slice_rows or n) for t in streamed)
    numbers = np.concatenate([t.row_number for t in streamed] + [t.bad_rows["row_number"].to_numpy(np.int64) for t in streamed])
    assert sorted(numbers.tolist()) == list(range(1, n + 1))


MULTILINE_CHARS = "ABJKLMRTW .,;|\t\n\r\"0123"


@st.composite
def multiline_files(draw):
    """Rows whose address is a quoted value over several lines (Alt+Enter in Excel), with
    delimiters and doubled quotes inside; no stray quotes."""
    n = draw(st.integers(1, 12))
    d = draw(st.sampled_from(DELIMITERS))
    addresses = []
    for _ in range(n):
        parts = draw(st.lists(st.text(MULTILINE_CHARS.replace("\n", "").replace("\r", ""), max_size=10), min_size=1, max_size=4))
        # at most one delimiter per line of a value: an address line is no row (see csv_layout)
        parts = [p if p.count(d) <= 1 else p.replace(d, "") for p in parts]
        breaks = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=len(parts) - 1, max_size=len(parts) - 1))
        addresses.append("".join(p + b for p, b in zip(parts, breaks + [""])))
    return {
        "delimiter": d,
        "newline": draw(st.sampled_from(NEWLINES)),
        "encoding": draw(st.sampled_from(ENCODINGS)),
        "addresses": addresses,
    }


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=multiline_files(), slice_rows=st.sampled_from([None, 2]))
def test_values_spanning_lines_stay_one_row_and_their_lines_are_counted(tmp_path, spec, slice_rows):
    d, nl = spec["delimiter"], spec["newline"]
    niks = [f"32010101017{i:05d}" for i in range(1, len(spec["addresses"]) + 1)]
    quoted = ['"' + a.replace('"', '""') + '"' for a in spec["addresses"]]
    text = nl.join([d.join(["NIK", "NAMA", "ALAMAT", "KET"])] + [d.join([k, "ORANG", q, "X"]) for k, q in zip(niks, quoted)]) + nl
    path = tmp_path / "multi.csv"
    path.write_bytes(text.encode(spec["encoding"]))
    src = make_source(path, {"nik": "NIK", "name": "NAMA", "address": "ALAMAT"})

    read = read_source(src)
    expected = ({i: [k, "ORANG", a, "X"] for i, (k, a) in enumerate(zip(niks, spec["addresses"]), start=1)}, {})
    assert _got(read.tables) == expected
    inside = sum(len(re.findall(r"\r\n|\r|\n", a)) for a in spec["addresses"])
    check = read.files[0]["check"]
    assert check["data_lines"] == physical_lines(text) - 1 == len(niks) + inside
    assert (check["lines_in_values"], check["agrees"]) == (inside, True)
    assert _got(list(csv_slices(path, src, slice_rows))) == expected
