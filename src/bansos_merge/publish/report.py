"""report.html: one self-contained page about a run, for the data officers.

Counts only: no name, NIK, address or person id ever reaches the page, so it can be mailed
or printed freely. Everything is inline (CSS; the bar charts are HTML lists laid out by CSS);
the page loads nothing from anywhere and runs no script. It reads from a 390 px phone to a wide
screen without scrolling sideways; only a wide table scrolls, inside its own box. Every piece
of text goes through `html.escape` and every visible string through `i18n`. The markup is also well-formed XML (void elements
closed, no named entities), which lets tests parse it with the standard library. The
figures themselves are worked out in `report_figures`.
"""

from __future__ import annotations

import html
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from ..contracts import SCHEMA_VERSION
from . import i18n
from .manifest import now_utc
from .report_figures import accounting_table, headline, kind_table, quality_table, region_counts
from .workbook import temp_beside

_KIND_COLOR = "#2a6f97"
_REGION_COLOR = "#3a7d44"


def _version() -> str:
    try:
        return version("bansos-merge")
    except PackageNotFoundError:
        return ""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


_CSS = """
:root { --ink:#1b2530; --muted:#4a5866; --line:#d5dbe1; --soft:#f3f6f8; --accent:#1f4e5f; --ok:#1e6b34; --bad:#a01a1a; }
* { box-sizing:border-box; }
html { -webkit-text-size-adjust:100%; }
body { margin:0; color:var(--ink); background:#fff;
  font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans","DejaVu Sans",sans-serif; }
main { max-width:1140px; margin:0 auto; padding:28px 32px 40px; }
header.top { border-bottom:3px solid var(--accent); padding-bottom:14px; margin-bottom:18px; }
h1 { font-size:26px; line-height:1.25; margin:0 0 4px; color:var(--accent); }
h2 { font-size:19px; margin:34px 0 10px; color:var(--accent); border-bottom:1px solid var(--line); padding-bottom:4px; }
h3 { font-size:15px; margin:0 0 8px; }
p { margin:6px 0; }
.subtitle { color:var(--muted); margin:0 0 12px; }
dl.meta { display:grid; grid-template-columns:max-content 1fr max-content 1fr; gap:3px 14px; margin:0; font-size:14px; }
dl.meta dt { color:var(--muted); }
dl.meta dd { margin:0; font-variant-numeric:tabular-nums; overflow-wrap:anywhere; }
nav.toc { font-size:14px; margin-top:12px; }
nav.toc ul { list-style:none; display:flex; flex-wrap:wrap; gap:4px 18px; margin:0; padding:0; }
nav.toc a { color:#0b5cad; }
.privacy { background:var(--soft); border-left:4px solid var(--accent); padding:8px 12px; font-size:14px; color:var(--muted); margin:14px 0 0; }
ul.cards { list-style:none; margin:0; padding:0; display:grid; grid-template-columns:repeat(auto-fit,minmax(138px,1fr)); gap:12px; }
ul.cards li { border:1px solid var(--line); border-radius:8px; padding:12px 14px; background:#fff; border-top:4px solid var(--accent); }
ul.cards .num { display:block; font-size:26px; font-weight:700; line-height:1.2; font-variant-numeric:tabular-nums; }
ul.cards .lbl { display:block; font-size:13.5px; color:var(--muted); margin-top:2px; }
ul.cards .sub { display:block; font-size:12.5px; color:var(--muted); margin-top:2px; }
ul.cards li.warn { border-top-color:#b35c00; }
.charts { display:grid; grid-template-columns:1fr 1fr; gap:22px; align-items:start; }
figure { margin:0; border:1px solid var(--line); border-radius:8px; padding:12px 14px 8px; break-inside:avoid; }
figcaption { font-weight:600; margin-bottom:8px; }
ul.bars { list-style:none; margin:0; padding:0; font-size:14px; }
ul.bars li { display:grid; grid-template-columns:minmax(7em,38%) 1fr 3.2em; gap:2px 8px; align-items:center; padding:2px 0; }
ul.bars .bar-label { text-align:right; line-height:1.25; overflow-wrap:anywhere; }
ul.bars .bar-track { display:block; border-left:1px solid #8a96a3; padding:3px 0; }
ul.bars .bar-fill { display:block; height:18px; min-width:2px; border-radius:0 3px 3px 0;
  -webkit-print-color-adjust:exact; print-color-adjust:exact; }
ul.bars .bar-val { font-variant-numeric:tabular-nums; font-weight:600; }
p.note { color:var(--muted); font-size:13.5px; margin:0 0 6px; }
.table-wrap { overflow-x:auto; max-width:100%; }
table { border-collapse:collapse; width:100%; font-size:14px; margin:4px 0 6px; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; text-align:left; }
thead th { background:var(--soft); border-bottom:2px solid #aab5c0; font-weight:600; }
tfoot td, tfoot th { font-weight:700; border-top:2px solid #aab5c0; border-bottom:none; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
thead th.n { white-space:normal; }
td .pct { display:block; color:var(--muted); font-size:12px; font-weight:400; }
tr.zero td { color:#7b8794; }
td.help { color:var(--muted); font-size:13.5px; }
.ok { color:var(--ok); font-weight:600; white-space:nowrap; }
.bad { color:var(--bad); font-weight:700; white-space:nowrap; }
ul.reasons { list-style:none; margin:0; padding:0; font-size:13px; }
ul.reasons li { min-width:11em; }
.muted { color:var(--muted); }
.sev { display:inline-block; min-width:2.2em; }
footer { margin-top:36px; padding-top:10px; border-top:1px solid var(--line); color:var(--muted); font-size:13px; }
@media (max-width:900px) { .charts { grid-template-columns:1fr; } dl.meta { grid-template-columns:max-content 1fr; } }
@media (max-width:600px) {
  main { padding:16px 14px 28px; }
  h1 { font-size:22px; }
  ul.cards { grid-template-columns:repeat(auto-fit,minmax(140px,1fr)); gap:8px; }
  ul.cards .num { font-size:22px; }
  /* a wide table scrolls inside its box; the row's name stays in view while it does */
  td.help { min-width:15em; }
  tbody th[scope=row], tfoot th[scope=row] { position:sticky; left:0; background:#fff; z-index:1; }
}
@media print {
  body { font-size:10pt; }
  main { max-width:none; padding:0; }
  nav.toc { display:none; }
  h1 { font-size:18pt; }
  h2 { font-size:13pt; margin-top:18px; break-after:avoid; }
  dl.meta { grid-template-columns:max-content 1fr max-content 1fr; font-size:9pt; }
  ul.cards { grid-template-columns:repeat(7,1fr); gap:6px; }
  ul.cards li { padding:6px 8px; }
  ul.cards .num { font-size:15pt; }
  ul.cards .lbl, ul.cards .sub { font-size:8pt; }
  .charts { grid-template-columns:1fr 1fr; gap:10px; }
  .table-wrap { overflow:visible; }
  table { font-size:8.5pt; }
  th, td { padding:3px 5px; }
  td.help { font-size:8pt; }
  table, figure, ul.cards li, tr { break-inside:avoid; }
  a { color:inherit; text-decoration:none; }
}
@page { margin:14mm 12mm; }
"""


def bar_chart(items: list[tuple[str, int]], title: str, chart_id: str, lang: str, color: str) -> str:
    """A horizontal bar chart as a list (label, bar, value) laid out by CSS grid: unlike an SVG
    scaled to the column, its text stays at reading size from a phone to a wide screen, and a
    screen reader reads it as the list it is."""
    if not items:
        return f'<p class="muted">{esc(i18n.t("report.chart_empty", lang))}</p>'
    top = max(v for _, v in items) or 1
    rows = "".join(
        f'<li data-value="{int(value)}"><span class="bar-label">{esc(name)}</span>'
        f'<span class="bar-track"><span class="bar-fill" style="width:{100 * value / top:.1f}%;background:{color}"></span></span>'
        f'<span class="bar-val">{esc(i18n.fmt_int(value, lang))}</span></li>'
        for name, value in items
    )
    return f'<ul class="bars" id="{chart_id}" aria-label="{esc(title)}">{rows}</ul>'


def _num(value: int, lang: str, pct_of: int | None = None, key: str | None = None) -> str:
    pct = f'<span class="pct">{esc(i18n.fmt_pct(value, pct_of, lang))}</span>' if pct_of is not None else ""
    data = f' data-key="{esc(key)}"' if key else ""
    return f'<td class="n" data-value="{int(value)}"{data}>{esc(i18n.fmt_int(value, lang))}{pct}</td>'


def _headline_html(h: dict[str, int], n_kinds: int, lang: str, review: dict | None = None) -> str:
    t = lambda key, **kw: i18n.t(key, lang, **kw)  # noqa: E731
    pct = lambda part, whole: i18n.fmt_pct(part, whole, lang)  # noqa: E731
    queue = t("report.pairs_waiting")
    if review:
        done = review.get("decided_by_analysts", 0)
        queue += "; " + t(
            "report.queue_detail",
            items=i18n.fmt_int(review.get("items", 0), lang),
            errors=i18n.fmt_int(round(review.get("expected_errors", 0)), lang),
            done=pct(done, done + review.get("pairs", 0)),
        )
    cards = [
        ("rows_read", t("report.rows_read"), "", ""),
        ("accepted", t("report.accepted"), t("report.of_read", pct=pct(h["accepted"], h["rows_read"])), ""),
        ("rejected", t("report.rejected"), t("report.of_read", pct=pct(h["rejected"], h["rows_read"])), ""),
        ("persons", t("report.persons"), "", ""),
        ("conflicts", t("report.conflicts"), t("report.distinct_conflicts", n=n_kinds), "warn"),
        ("conflict_records", t("report.conflict_records"), t("report.of_accepted", pct=pct(h["conflict_records"], h["accepted"])), "warn"),
        ("review", t("report.review"), queue, "warn"),
    ]
    items = "".join(
        f'<li class="{cls}" data-key="{key}"><span class="num" data-value="{h[key]}">{esc(i18n.fmt_int(h[key], lang))}</span>'
        f'<span class="lbl">{esc(label)}</span>' + (f'<span class="sub">{esc(sub)}</span>' if sub else "") + "</li>"
        for key, label, sub, cls in cards
    )
    return f'<ul class="cards">{items}</ul>'


def _quality_html(rows: list[dict], lang: str) -> str:
    t = lambda key: i18n.t(key, lang)  # noqa: E731
    head = [("col.source", ""), ("report.kind_col", ""), ("report.accepted", "n"), ("report.nik_valid", "n"), ("report.nik_invalid", "n"),
            ("report.nik_missing", "n"), ("report.nik_lost", "n"), ("report.nik_recovered", "n"), ("report.rejects_by_reason", "")]
    body = []
    for r in rows:
        kind = i18n.t(f"source_kind.{r['kind']}", lang) if r["kind"] in ("civil_registry", "aid_list", "exclusion_list") else (r["kind"] or "\u2013")
        reasons = (
            '<ul class="reasons">'
            + "".join(
                f'<li data-reason="{esc(code)}" data-value="{n}">{esc(i18n.label("reject_reason", code, lang))}: {esc(i18n.fmt_int(n, lang))}</li>'
                for code, n in r["rejected_by_reason"].items()
            )
            + "</ul>"
            if r["rejected_by_reason"]
            else f'<span class="muted">{esc(t("report.none"))}</span>'
        )
        acc = r["accepted"]
        body.append(
            f'<tr data-source="{esc(r["source"])}"><th scope="row">{esc(r["source"])}</th><td>{esc(kind)}</td>'
            + _num(acc, lang, key="accepted")
            + "".join(_num(r[k], lang, acc, key=k) for k in ("nik_valid", "nik_invalid", "nik_missing", "nik_lost"))
            + _num(r["nik_recovered"], lang, r["nik_lost"] if r["nik_lost"] else None, key="nik_recovered")
            + f"<td>{reasons}</td></tr>"
        )
    return _table("quality", t("report.quality_note"), head, body, lang)


def _table(table_id: str, caption: str, head: list[tuple[str, str]], body: list[str], lang: str, foot: str = "") -> str:
    """`head`: (i18n key, or "=" + text already translated; css class of the column)."""
    def th(key: str, cls: str) -> str:
        label = key[1:] if key.startswith("=") else i18n.t(key, lang)
        attr = f' class="{cls}"' if cls else ""
        return f'<th scope="col"{attr}>{esc(label)}</th>'

    return (
        f'<p class="note" id="note-{table_id}">{esc(caption)}</p>'
        f'<div class="table-wrap"><table id="table-{table_id}" aria-describedby="note-{table_id}">'
        f"<thead><tr>{''.join(th(k, c) for k, c in head)}</tr></thead><tbody>{''.join(body)}</tbody>{foot}</table></div>"
    )


def _accounting_html(rows: list[dict], lang: str) -> str:
    t = lambda key: i18n.t(key, lang)  # noqa: E731

    def mark(ok: bool) -> str:
        return (
            f'<td class="ok" data-ok="true"><span aria-hidden="true">\u2714</span> {esc(t("report.ok"))}</td>'
            if ok
            else f'<td class="bad" data-ok="false"><span aria-hidden="true">\u2718</span> {esc(t("report.not_ok"))}</td>'
        )

    head = [("col.source", ""), ("report.rows_read", "n"), ("report.accepted", "n"), ("report.rejected", "n"),
            ("report.sum", "n"), ("report.check", "")]
    body = [
        f'<tr data-source="{esc(r["source"])}"><th scope="row">{esc(r["source"])}</th>'
        + _num(r["rows_read"], lang, key="rows_read") + _num(r["accepted"], lang, key="accepted") + _num(r["rejected"], lang, key="rejected")
        + _num(r["accepted"] + r["rejected"], lang, key="sum") + mark(r["ok"]) + "</tr>"
        for r in rows
    ]
    tot = {k: sum(r[k] for r in rows) for k in ("rows_read", "accepted", "rejected")}
    foot = (
        f'<tfoot><tr data-source=""><th scope="row">{esc(t("report.total"))}</th>'
        + _num(tot["rows_read"], lang, key="rows_read") + _num(tot["accepted"], lang, key="accepted") + _num(tot["rejected"], lang, key="rejected")
        + _num(tot["accepted"] + tot["rejected"], lang, key="sum") + mark(all(r["ok"] for r in rows)) + "</tr></tfoot>"
    )
    return _table("accounting", t("report.accounting_note"), head, body, lang, foot)


def _kinds_html(kinds: pd.DataFrame, lang: str) -> str:
    head = [("col.kind", ""), ("col.description", ""), ("col.conflicts", "n")]
    head += [("=" + i18n.label("severity", s, lang), "n") for s in i18n.SEVERITIES]
    head += [("col.records", "n"), ("col.persons", "n")]
    body = []
    for kind, r in kinds.iterrows():
        zero = "" if r["conflicts"] else ' class="zero"'
        body.append(
            f'<tr data-kind="{esc(kind)}"{zero}>'
            f'<th scope="row">{esc(i18n.label("kind", kind, lang))}</th><td class="help">{esc(i18n.label("kind_help", kind, lang))}</td>'
            + _num(int(r["conflicts"]), lang, key="conflicts")
            + "".join(_num(int(r[s]), lang, key=s) for s in i18n.SEVERITIES)
            + _num(int(r["records"]), lang, key="records") + _num(int(r["persons"]), lang, key="persons") + "</tr>"
        )
    foot = (
        f'<tfoot><tr data-kind=""><th scope="row">{esc(i18n.t("report.total", lang))}</th><td></td>'
        + _num(int(kinds["conflicts"].sum()), lang, key="conflicts")
        + "".join(_num(int(kinds[s].sum()), lang, key=s) for s in i18n.SEVERITIES)
        + _num(int(kinds["records"].sum()), lang, key="records") + "<td></td></tr></tfoot>"
    )
    return _table("kinds", i18n.t("report.kinds_note", lang), head, body, lang, foot)


def render_report(
    manifest: dict, records: pd.DataFrame, rejects: pd.DataFrame, conflicts: pd.DataFrame, review_count: int, language: str = "id"
) -> str:
    """The page as a string (pure)."""
    lang = i18n.check_language(language)
    t = lambda key, **kw: i18n.t(key, lang, **kw)  # noqa: E731
    h = headline(manifest, records, conflicts, review_count)
    kinds = kind_table(conflicts)
    present = [(i18n.label("kind", k, lang), int(v)) for k, v in kinds["conflicts"].items() if v]
    regions = region_counts(conflicts, lang)
    sha = str(manifest.get("config_sha256") or "")
    meta = [
        ("report.run_id", manifest.get("run_id") or "\u2013"),
        ("report.schema", manifest.get("schema_version") or SCHEMA_VERSION),
        ("report.started", i18n.fmt_datetime(manifest.get("started_at"), lang)),
        ("report.config", sha[:12] or "\u2013"),
        ("report.finished", i18n.fmt_datetime(manifest.get("finished_at"), lang)),
        ("report.generated", i18n.fmt_datetime(now_utc(), lang)),
    ]
    sections = [
        ("headline", "report.headline"),
        ("charts", "report.charts"),
        ("quality", "report.quality"),
        ("accounting", "report.accounting"),
        ("kinds", "report.by_kind"),
    ]
    toc = "".join(f'<li><a href="#{sid}">{esc(t(key))}</a></li>' for sid, key in sections)
    body = f"""<main>
<header class="top">
<h1>{esc(t("report.title"))}</h1>
<p class="subtitle">{esc(t("report.subtitle"))}</p>
<dl class="meta">{"".join(f"<dt>{esc(t(k))}</dt><dd>{esc(v)}</dd>" for k, v in meta)}</dl>
<nav class="toc" aria-label="{esc(t("report.contents"))}"><ul>{toc}</ul></nav>
<p class="privacy">{esc(t("report.privacy", sheet=i18n.sheet_title("review_needed", lang)))}</p>
</header>
<section id="headline" aria-labelledby="h-headline">
<h2 id="h-headline">{esc(t("report.headline"))}</h2>
{_headline_html(h, len(present), lang, manifest.get("review"))}
</section>
<section id="charts" aria-labelledby="h-charts">
<h2 id="h-charts">{esc(t("report.charts"))}</h2>
<div class="charts">
<figure id="chart-kind"><figcaption>{esc(t("report.chart_kind"))}</figcaption>{bar_chart(present, t("report.chart_kind"), "ck", lang, _KIND_COLOR)}</figure>
<figure id="chart-region"><figcaption>{esc(t("report.chart_region"))}</figcaption>{bar_chart(regions, t("report.chart_region"), "cr", lang, _REGION_COLOR)}</figure>
</div>
</section>
<section id="quality" aria-labelledby="h-quality">
<h2 id="h-quality">{esc(t("report.quality"))}</h2>
{_quality_html(quality_table(manifest, records, rejects), lang)}
</section>
<section id="accounting" aria-labelledby="h-accounting">
<h2 id="h-accounting">{esc(t("report.accounting"))}</h2>
{_accounting_html(accounting_table(manifest), lang)}
</section>
<section id="kinds" aria-labelledby="h-kinds">
<h2 id="h-kinds">{esc(t("report.by_kind"))}</h2>
{_kinds_html(kinds, lang)}
</section>
<footer><p>{esc(t("report.footer"))} bansos-merge {esc(_version())}</p></footer>
</main>"""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}"><head><meta charset="utf-8" />'
        '<meta name="viewport" content="width=device-width, initial-scale=1" />'
        f"<title>{esc(t('report.title'))} \u2013 {esc(manifest.get('run_id') or '')}</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def write_report(
    manifest: dict,
    records: pd.DataFrame,
    rejects: pd.DataFrame,
    conflicts: pd.DataFrame,
    review_count: int,
    path: Path,
    language: str = "id",
) -> None:
    """Write `report.html` to `path`, atomically."""
    page = render_report(manifest, records, rejects, conflicts, review_count, language)
    path = Path(path)
    tmp = temp_beside(path)
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            fh.write(page)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
