"""report.html: structure parsed back, no personal data, self-contained, and rendered in a
real headless browser (Debian's chromium) whose screenshot must not be blank.

Set BANSOS_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/report.png from the fixture run.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

from bansos_merge.publish import i18n
from bansos_merge.publish.report import render_report, write_report
from bansos_merge.regions import load_regions
from test_workbook import SCREENSHOTS, UPDATE_SCREENSHOTS, _book, make_run

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def run():
    return make_run()


@pytest.fixture(scope="module")
def page(run) -> str:
    return render_report(run.manifest, run.records, run.rejects, run.conflicts, run.review_count)


def parse(page: str) -> ET.Element:
    """The page is well-formed XML after its doctype (the report keeps it so)."""
    assert page.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(page.split("\n", 1)[1])


def by_id(root: ET.Element, element_id: str) -> ET.Element:
    found = root.find(f".//*[@id='{element_id}']")
    assert found is not None, element_id
    return found


def text(el: ET.Element) -> str:
    return "".join(el.itertext()).strip()


def table_rows(table: ET.Element, attr: str, part: str = "tbody") -> dict[str, dict[str, int]]:
    """{row's data-<attr>: {cell data-key: data-value}} of a table section."""
    out = {}
    for tr in table.find(part).findall("tr"):
        out[tr.get(attr)] = {td.get("data-key"): int(td.get("data-value")) for td in tr.findall("td") if td.get("data-key")}
    return out


# ---------------------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------------------


def test_headline_numbers(run, page):
    root = parse(page)
    assert root.get("lang") == "id"
    cards = {li.get("data-key"): int(li.find("span").get("data-value")) for li in by_id(root, "headline").iter("li")}
    t = run.manifest["totals"]
    assert cards == {
        "rows_read": t["rows_read"],
        "accepted": t["accepted"],
        "rejected": t["rejected"],
        "persons": run.manifest["linkage"]["persons"],
        "conflicts": run.conflicts["conflict_id"].nunique(),
        "conflict_records": len(run.conflicts),
        "review": run.review_count,
    }
    assert t["rows_read"] == t["accepted"] + t["rejected"] and t["accepted"] == len(run.records)
    header = text(root.find(".//header"))
    assert run.manifest["run_id"] in header
    assert "29 November 2026 08:12:03 UTC" in header and "29 November 2026 08:14:41 UTC" in header
    assert text(root.find(".//h1")) == "Laporan penggabungan data penerima bantuan sosial"


def test_data_quality_per_source(run, page):
    rows = table_rows(by_id(parse(page), "table-quality"), "data-source")
    r = run.records
    assert list(rows) == [s["source"] for s in run.manifest["sources"]]
    for source, got in rows.items():
        st = r.loc[r["source"] == source, "nik_status"]
        assert got["accepted"] == len(st)
        assert got["nik_valid"] == (st == "valid").sum()
        assert got["nik_missing"] == (st == "missing").sum()
        assert got["nik_invalid"] == st.isin(["malformed", "dummy", "kk_as_nik", "invalid_date", "serial_zero"]).sum()
        assert got["nik_lost"] == (st == "precision_lost").sum()
        assert got["nik_valid"] + got["nik_missing"] + got["nik_invalid"] + got["nik_lost"] == got["accepted"]
    # every precision-lost NIK in the fixture belongs to a person whose civil-registry NIK is whole
    assert rows["dtks_kemensos"]["nik_lost"] > 0
    assert all(v["nik_recovered"] == v["nik_lost"] for v in rows.values())
    reasons = {
        tr.get("data-source"): {li.get("data-reason"): int(li.get("data-value")) for li in tr.iter("li")}
        for tr in by_id(parse(page), "table-quality").find("tbody")
    }
    assert reasons == {s["source"]: s["rejected_by_reason"] for s in run.manifest["sources"]}


def test_recovered_needs_a_matching_full_nik(run):
    recs = run.records.copy()
    lost = recs.index[recs["nik_status"] == "precision_lost"][0]
    recs.loc[lost, "nik_known_digits"] = "999999999999999"
    root = parse(render_report(run.manifest, recs, run.rejects, run.conflicts, 0))
    rows = table_rows(by_id(root, "table-quality"), "data-source")
    source = recs.loc[lost, "source"]
    assert rows[source]["nik_recovered"] == rows[source]["nik_lost"] - 1


def test_row_accounting_with_check_marks(run, page):
    table = by_id(parse(page), "table-accounting")
    rows = table_rows(table, "data-source")
    for s in run.manifest["sources"]:
        got = rows[s["source"]]
        assert (got["rows_read"], got["accepted"], got["rejected"]) == (s["rows_read"], s["accepted"], s["rejected"])
        assert got["sum"] == got["rows_read"]
    marks = [td.get("data-ok") for td in table.iter("td") if td.get("data-ok")]
    assert marks == ["true"] * (len(run.manifest["sources"]) + 1)
    assert "\u2714" in text(table)
    total = table_rows(table, "data-source", "tfoot")[""]
    assert total["rows_read"] == run.manifest["totals"]["rows_read"]


def test_unbalanced_source_is_flagged(run):
    manifest = {**run.manifest, "sources": [dict(s) for s in run.manifest["sources"]]}
    manifest["sources"][1]["rows_read"] += 1
    table = by_id(parse(render_report(manifest, run.records, run.rejects, run.conflicts, 0)), "table-accounting")
    assert [td.get("data-ok") for td in table.iter("td") if td.get("data-ok")] == ["true", "false", "true", "false"]
    assert "TIDAK cocok" in text(table)


def test_conflicts_by_kind_table_and_charts(run, page):
    root = parse(page)
    rows = table_rows(by_id(root, "table-kinds"), "data-kind")
    c = run.conflicts
    assert list(rows) == list(i18n.KINDS)
    first = c.drop_duplicates("conflict_id")
    for kind, got in rows.items():
        sub = c[c["kind"] == kind]
        assert got["conflicts"] == sub["conflict_id"].nunique()
        assert got["records"] == len(sub)
        assert got["persons"] == sub["person_id"].nunique()
        sev = first.loc[first["kind"] == kind, "severity"].value_counts()
        assert (got["high"], got["medium"], got["low"]) == tuple(int(sev.get(s, 0)) for s in ("high", "medium", "low"))
    # the kind chart has one bar per kind present, the region chart at most 15
    kind_bars = list(by_id(root, "chart-kind").iter("li"))
    assert len(kind_bars) == c["kind"].nunique()
    region_bars = list(by_id(root, "chart-region").iter("li"))
    assert len(region_bars) == min(15, c["regency_code"].nunique())  # grouped by Kemendagri code, not spelling
    top = c.groupby("regency_code")["conflict_id"].nunique().sort_values(ascending=False, kind="stable")
    names = load_regions().regions.set_index("code")["name"]
    largest = {f"{names[code]} ({code[:2]}.{code[2:]})" for code in top[top == top.iloc[0]].index}
    assert text(region_bars[0].find("span")) in largest
    assert int(region_bars[0].get("data-value")) == top.iloc[0]
    assert by_id(root, "chart-kind").find(".//ul").get("aria-label") == "Konflik menurut jenis"


def test_no_personal_data_and_nothing_external(run, page):
    assert not re.search(r"\d{12,}", page), "an identity number is on the page"
    for name in set(run.records["name"].dropna()) | set(run.records["name_raw"].dropna()):
        assert name not in page
    for pid in run.records["person_id"].head(50):
        assert pid not in page
    for record_id in run.records["record_id"].sample(50, random_state=1):
        assert f">{record_id}<" not in page and f'"{record_id}"' not in page
    lowered = page.lower()
    for needle in ("<script", "http:", "https:", "src=", "<link", "@import", "url(", "//"):
        assert needle not in lowered, needle


def test_everything_is_escaped(run):
    conflicts = run.conflicts.copy()
    conflicts.loc[conflicts.index[:5], ["regency_code", "regency"]] = [None, '<b onmouseover="x">KAB. "A&B"</b>']  # shown as written
    manifest = {**run.manifest, "run_id": "<i>run</i>&"}
    page = render_report(manifest, run.records, run.rejects, conflicts, 0)
    parse(page)  # still well-formed
    assert "<b onmouseover" not in page and "<i>run" not in page
    assert "&lt;b onmouseover=&quot;x&quot;&gt;KAB. &quot;A&amp;B&quot;&lt;/b&gt;" in page


def test_english(run):
    root = parse(render_report(run.manifest, run.records, run.rejects, run.conflicts, run.review_count, language="en"))
    assert root.get("lang") == "en"
    assert text(root.find(".//h1")) == "Social-assistance recipient merge report"
    assert "Row accounting" in text(by_id(root, "accounting"))
    assert "Shared NIK" in text(by_id(root, "table-kinds"))
    assert "29 November 2026" in text(root.find(".//header"))
    with pytest.raises(ValueError):
        render_report(run.manifest, run.records, run.rejects, run.conflicts, 0, language="jv")


@pytest.mark.parametrize("lang", ["id", "en"])
def test_row_detail_points_to_the_workbook_sheet_and_the_review_app(tmp_path, run, lang):
    """An officer cannot open review.parquet: the page names the workbook's sheet (as the
    workbook of the same run titles it, in the page's language) and the review app."""
    root = parse(render_report(run.manifest, run.records, run.rejects, run.conflicts, run.review_count, language=lang))
    note = text(root.find(".//p[@class='privacy']"))
    assert "review.parquet" not in note and "bansos-merge review" in note and "conflicts.xlsx" in note
    sheets = _book(tmp_path, run, language=lang).sheetnames
    named = re.search("\u201c(.+?)\u201d", note).group(1)
    assert named in sheets and named == ("Perlu ditinjau" if lang == "id" else "Needs review")
    # the kinds table says the sheets are named like the kinds, and they are
    kinds = [text(tr.find("th")) for tr in by_id(root, "table-kinds").find("tbody") if tr.get("class") != "zero"]
    assert kinds and set(kinds) <= set(sheets)
    assert "conflicts.xlsx" in text(by_id(root, "kinds"))


def test_empty_run(run):
    empty = run.conflicts.iloc[0:0]
    root = parse(render_report({"run_id": "r1", "sources": []}, run.records.iloc[0:0], run.rejects.iloc[0:0], empty, 0))
    assert "Tidak ada konflik." in text(by_id(root, "charts"))
    assert all(v["conflicts"] == 0 for v in table_rows(by_id(root, "table-kinds"), "data-kind").values())


def test_write_is_atomic(tmp_path, run):
    path = tmp_path / "report.html"
    path.write_text("old")
    write_report(run.manifest, run.records, run.rejects, run.conflicts, 3, path)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


# ---------------------------------------------------------------------------------------
# A real browser
# ---------------------------------------------------------------------------------------


def chromium_screenshot(html_file: Path, png: Path, profile: Path, size: str = "1280,2000") -> None:
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", "--force-device-scale-factor=1", f"--user-data-dir={profile}",
        f"--screenshot={png}", f"--window-size={size}", html_file.resolve().as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def png_rows(png: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the (still filtered) scanlines of a non-interlaced 8-bit PNG, stdlib only."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        pos += 12 + length
    width, height, depth, color, _, _, interlace = ihdr
    assert depth == 8 and interlace == 0
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    raw = zlib.decompress(b"".join(idat))
    stride = 1 + width * channels
    assert len(raw) == stride * height
    return width, height, [raw[i * stride : (i + 1) * stride] for i in range(height)]


def assert_not_blank(png: Path, width: int, height: int) -> None:
    """A blank page filters to a handful of identical scanlines; a page with text and charts
    to hundreds of distinct ones."""
    w, h, rows = png_rows(png)
    assert (w, h) == (width, height)
    distinct = len(set(rows))
    assert distinct > 200, f"screenshot looks blank: {distinct} distinct scanlines"


def test_png_check_catches_a_blank_page(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): apt-get install -y chromium")
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    chromium_screenshot(blank, tmp_path / "blank.png", tmp_path / "profile", "640,400")
    with pytest.raises(AssertionError, match="blank"):
        assert_not_blank(tmp_path / "blank.png", 640, 400)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_renders_in_headless_chromium(tmp_path, run, lang):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): apt-get install -y chromium")
    html_file, png = tmp_path / "report.html", tmp_path / "report.png"
    write_report(run.manifest, run.records, run.rejects, run.conflicts, run.review_count, html_file, language=lang)
    chromium_screenshot(html_file, png, tmp_path / "profile")
    assert png.stat().st_size > 30_000
    assert_not_blank(png, 1280, 2000)
    if UPDATE_SCREENSHOTS:  # the whole page, for the docs
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        chromium_screenshot(html_file, png, tmp_path / "profile", "1280,2450")
        shutil.copy(png, SCREENSHOTS / ("report.png" if lang == "id" else "report_en.png"))


_LAYOUT = """() => ({
    page: document.scrollingElement.scrollWidth,
    viewport: window.innerWidth,
    wraps: [...document.querySelectorAll('.table-wrap')].map(e => ({
        table: e.querySelector('table').id, scroll: e.scrollWidth, box: e.clientWidth,
        right: e.getBoundingClientRect().right})),
    lastHeader: document.querySelector('#table-quality thead th:last-child').getBoundingClientRect().right,
    smallestText: (() => {  // the height of the lowest line box any text is drawn in, as rendered
        const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
        const range = document.createRange();
        let least = Infinity;
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            if (!n.textContent.trim()) continue;
            range.selectNodeContents(n);
            for (const r of range.getClientRects()) if (r.width > 0) least = Math.min(least, r.height);
        }
        return least;
    })(),
})"""


SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def merged_sample(folder: Path, lang: str) -> Path:
    """The bundled sample merged by the real CLI, its report in `lang`: the report.html an
    officer opens (its long source names and reject reasons are what overflowed)."""
    folder.mkdir(parents=True)
    for f in SAMPLE.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    config = folder / "merge.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"publish:\n  language: {lang}\n", encoding="utf-8")
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "bansos_merge.cli", "run", "--config", str(config)], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder / "out" / "latest" / "report.html"


@pytest.mark.parametrize("lang", ["id", "en"])
def test_reads_at_1280_px_and_on_a_390_px_phone(tmp_path, lang):
    """No sideways scrolling of the page at either width; at 1280 px every table fits whole
    (the data-quality table's last column, "Ditolak menurut alasan", was cut off); on a phone a
    wide table scrolls inside its own box; no line of text under 12 px high (an SVG chart
    scaled to a phone's width shrank its labels to 7 px). Screenshots: tmp_path/report-*.png."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    html_file = merged_sample(tmp_path / "sample", lang)
    layouts = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"], headless=True)
        try:
            for width in (1280, 390):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(html_file.resolve().as_uri())
                page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)
                layouts[width] = page.evaluate(_LAYOUT)
                page.close()
        finally:
            browser.close()
    for width, got in layouts.items():
        assert got["viewport"] == width
        assert got["page"] <= width, f"the page scrolls sideways at {width} px"
        assert all(w["right"] <= width for w in got["wraps"]), got["wraps"]
        assert got["smallestText"] >= 12, f"a line of text {got['smallestText']} px high at {width} px"
        assert_not_blank(tmp_path / f"report-{width}.png", width, png_rows(tmp_path / f"report-{width}.png")[1])
    wide = layouts[1280]
    assert [w["table"] for w in wide["wraps"]] == ["table-quality", "table-accounting", "table-kinds"]
    assert all(w["scroll"] <= w["box"] for w in wide["wraps"]), wide["wraps"]
    assert wide["lastHeader"] <= 1280
    assert any(w["scroll"] > w["box"] for w in layouts[390]["wraps"])  # the phone scrolls a table, not the page
