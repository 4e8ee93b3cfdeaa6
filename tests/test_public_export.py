"""public/: the audit export of a real run of a generated sample holds no identifying value of
the run, suppresses small counts, and its totals cannot be used to undo the suppression. The
page renders in Debian's chromium, at desktop and phone widths, and its table sorts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from bansos_merge.contracts import PublicAggregateRow
from bansos_merge.publish.public import COUNTS, write_public
from bansos_merge.sample.generate import generate_sample
from test_report import CHROMIUM, assert_not_blank, chromium_screenshot

ENV = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
MIN_CELL = 5
REGION_KEYS = ["regency_code", "program"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("public") / "sample"
    generate_sample(3000, 5, out)
    done = subprocess.run(
        [sys.executable, "-m", "bansos_merge.cli", "run", "--config", str(out / "merge.yaml")], capture_output=True, text=True, env=ENV, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out / "out" / "latest"


@pytest.fixture(scope="module")
def csv_table(run) -> pd.DataFrame:
    return pd.read_csv(run / "public" / "aggregates.csv", dtype=str, keep_default_na=False)


def parse(page: str) -> ET.Element:
    assert page.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(page.split("\n", 1)[1])


def page_rows(root: ET.Element, part: str) -> list[dict]:
    """Rows of the regency table's `part`, each {data-regency, data-program, column: (low, high)}."""
    rows = []
    for tr in root.find(f".//table[@id='regencies']/{part}").findall("tr"):
        row = {"regency_code": tr.get("data-regency", ""), "program": tr.get("data-program")}
        for td in tr.findall("td"):
            if td.get("data-key"):
                row[td.get("data-key")] = (int(td.get("data-low")), int(td.get("data-high")))
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------- no personal data


def _identifying_values(run: Path) -> set[str]:
    """Every value of the run that could identify someone: identity numbers, names, addresses,
    phone numbers, record and person ids (short row-number ids and single words excepted)."""
    records = pd.read_parquet(run / "records.parquet")
    values: set[str] = set()
    for column in ("nik", "nik_raw", "kk", "kk_raw", "phone", "person_id"):
        values |= {str(v).strip() for v in records[column].dropna() if len(str(v).strip()) >= 8}
    for column in ("name", "name_raw", "mother_name", "address", "address_raw"):
        values |= {str(v).strip().upper() for v in records[column].dropna() if " " in str(v).strip() and len(str(v)) >= 8}
    values |= {str(v) for v in records["record_id"] if len(str(v)) >= 6}
    values |= set(records["source"] + ":" + records["record_id"])
    return values


def test_public_files_hold_no_identifying_value_of_the_run(run):
    folder = run / "public"
    assert sorted(p.name for p in folder.iterdir()) == ["aggregates.csv", "aggregates.parquet", "index.html"]
    table = pq.read_table(folder / "aggregates.parquet")
    texts = {
        "aggregates.csv": (folder / "aggregates.csv").read_text(encoding="utf-8"),
        "index.html": (folder / "index.html").read_text(encoding="utf-8"),
        "aggregates.parquet": table.to_pandas().to_csv() + str(table.schema.metadata),
    }
    values = _identifying_values(run)
    assert len(values) > 5000  # the scan has something to find
    for name, text in texts.items():
        upper = text.upper()
        found = sorted(v for v in values if v.upper() in upper)
        assert not found, f"{name} holds identifying values: {found[:5]}"
        # and no run of digits as long as an identity number (village codes have 10)
        assert not re.search(r"(?<!\d)\d{11,}(?!\d)", text), name
    assert table.schema.names == list(PublicAggregateRow.model_fields)


# --------------------------------------------------------------------------------------- suppression


def test_small_counts_are_suppressed_and_others_exact(run, csv_table):
    records = pd.read_parquet(run / "records.parquet")
    conflicts = pd.read_parquet(run / "conflicts.parquet")
    aid = records[records["source_kind"] == "aid_list"].assign(program=lambda f: f["program"].fillna(""))
    # counted here independently of the library: entries, persons and three kinds, per village x program
    flagged = conflicts.merge(aid[["source", "record_id"]], on=["source", "record_id"])
    truth = aid.groupby(["village_code", "program"]).agg(recipients=("record_id", "size"), persons=("person_id", "nunique"))
    for kind in ("deceased", "ineligible", "duplicate_in_source"):
        mine = aid.merge(flagged.loc[flagged["kind"] == kind, ["source", "record_id"]].drop_duplicates())
        truth[kind] = mine.groupby(["village_code", "program"]).size().reindex(truth.index, fill_value=0)
    published = csv_table.set_index(["village_code", "program"])
    parquet = pq.read_table(run / "public" / "aggregates.parquet").to_pandas().fillna({"program": ""}).set_index(["village_code", "program"])
    assert aid["village_code"].notna().all() and len(published) == len(truth)
    suppressed = 0
    for column in truth.columns:
        exact = truth[column]
        shown = published.loc[exact.index, column]
        small = (exact >= 1) & (exact < MIN_CELL)
        assert (shown[small] == f"<{MIN_CELL}").all(), column
        assert (shown[~small] == exact[~small].astype(str)).all(), column
        assert parquet.loc[exact.index, column][small].isna().all() and (parquet.loc[exact.index, column][~small] == exact[~small]).all()
        suppressed += int(small.sum())
    assert suppressed >= 3 and (truth["recipients"] >= MIN_CELL).any()  # both cases occur
    for column in COUNTS:  # every count, every cell: 0, '<5' or at least 5
        shown = csv_table[column]
        assert ((shown == f"<{MIN_CELL}") | (pd.to_numeric(shown, errors="coerce") == 0) | (pd.to_numeric(shown, errors="coerce") >= MIN_CELL)).all()


def test_totals_cannot_undo_the_suppression(run, csv_table):
    """The obvious subtraction: a regency's (or program's, or the headline's) figure less the
    visible villages under it. It must give back only what '<5' already says of each hidden
    cell (1 to 4), never a value, and the true total must lie inside the published figure."""
    root = parse((run / "public" / "index.html").read_text(encoding="utf-8"))
    records = pd.read_parquet(run / "records.parquet")
    aid = records[records["source_kind"] == "aid_list"].assign(program=lambda f: f["program"].fillna(""))
    villages = csv_table.assign(program=csv_table["program"].fillna(""))
    hidden_somewhere = 0

    def check(published: tuple[int, int], cells: pd.Series, true_total: int | None) -> int:
        hidden = int((cells == f"<{MIN_CELL}").sum())
        visible = int(pd.to_numeric(cells, errors="coerce").fillna(0).sum())
        low, high = published
        # what subtraction leaves for the hidden cells together: exactly their 1..4 each
        assert (low - visible, high - visible) == (hidden, hidden * (MIN_CELL - 1))
        if hidden == 1:  # the classic leak: one hidden cell and an exact total
            assert high > low
        if true_total is not None:
            assert low <= true_total <= high
        return hidden

    for row in page_rows(root, "tbody"):
        group = villages[(villages["regency_code"] == row["regency_code"]) & (villages["program"] == row["program"])]
        mine = aid[(aid["regency_code"].fillna("") == row["regency_code"]) & (aid["program"] == row["program"])]
        for column in COUNTS:
            true_total = len(mine) if column == "recipients" else None
            hidden_somewhere += check(row[column], group[column], true_total)
    for row in page_rows(root, "tfoot"):
        group = villages[villages["program"] == row["program"]]
        for column in COUNTS:
            check(row[column], group[column], len(aid[aid["program"] == row["program"]]) if column == "recipients" else None)
    for li in root.find(".//*[@id='headline']").iter("li"):
        span = li.find("span")
        check((int(span.get("data-low")), int(span.get("data-high"))), villages[li.get("data-key")], None)
    assert hidden_somewhere > 0


def test_a_single_hidden_village_is_not_given_away_by_its_regency(tmp_path):
    """Two villages of one regency: 120 entries and 3. The regency's 123 would give the 3 back."""
    counts = pd.DataFrame({"code": ["3201010001", "3201010002"], "program": ["BLT", "BLT"]})
    for column in COUNTS:
        counts[column] = [0, 0]
    counts.loc[:, ["recipients", "persons"]] = [[120, 118], [3, 3]]
    write_public(tmp_path, counts, {"run_id": "r1"}, MIN_CELL, "en")
    root = parse((tmp_path / "index.html").read_text(encoding="utf-8"))
    (row,) = page_rows(root, "tbody")
    assert row["recipients"] == (121, 124) and row["persons"] == (119, 122)
    assert "123" not in (tmp_path / "index.html").read_text(encoding="utf-8")
    assert (tmp_path / "aggregates.csv").read_text().splitlines()[2].split(",")[9:11] == ["<5", "<5"]


def test_a_program_of_few_persons_is_not_named(tmp_path):
    """A program label carried by fewer than public_min_cell persons (a name in a mis-mapped
    column, say) is shown as OTHER."""
    counts = pd.DataFrame({"code": ["3201010001"] * 3, "program": ["BLT", "SITI AMINAH", "AGUS SALIM"]})
    for column in COUNTS:
        counts[column] = np.zeros(3, dtype=np.int64)
    counts.loc[:, ["recipients", "persons"]] = [[40, 40], [1, 1], [2, 2]]
    write_public(tmp_path, counts, {"run_id": "r1"}, MIN_CELL, "id")
    table = pd.read_csv(tmp_path / "aggregates.csv", dtype=str)
    assert table["program"].tolist() == ["BLT", "OTHER"] and table["recipients"].tolist() == ["40", "<5"]
    for name in ("aggregates.csv", "index.html"):
        assert "AMINAH" not in (tmp_path / name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------- in a browser

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")


@needs_chromium
@pytest.mark.parametrize("size", ["1280,1400", "390,844"])
def test_the_page_renders_at_desktop_and_phone_widths(run, tmp_path, size):
    png = tmp_path / "public.png"
    chromium_screenshot(run / "public" / "index.html", png, tmp_path / "profile", size)
    width, height = (int(v) for v in size.split(","))
    assert_not_blank(png, width, height)


@needs_chromium
def test_the_table_sorts_in_a_real_browser_under_its_content_security_policy(run):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"], headless=True)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r: errors.append(r.url) if not r.url.startswith("file:") else None)
            page.goto((run / "public" / "index.html").resolve().as_uri())

            def column(key: str) -> list[int]:
                return [int(v) for v in page.eval_on_selector_all(f"#regencies tbody td[data-key='{key}']", "tds => tds.map(t => t.dataset.sort)")]

            header = page.locator("#regencies thead th[data-key='recipients'] button")
            header.click()
            assert column("recipients") == sorted(column("recipients"))
            assert page.get_attribute("#regencies thead th[data-key='recipients']", "aria-sort") == "ascending"
            header.click()
            assert column("recipients") == sorted(column("recipients"), reverse=True)
            page.locator("#regencies thead th:first-child button").click()
            names = page.eval_on_selector_all("#regencies tbody th", "ths => ths.map(t => t.dataset.sort)")
            assert names == sorted(names, key=str.casefold) and len(names) > 2
            assert not errors, errors  # no script blocked, nothing fetched
        finally:
            browser.close()
