"""A Splink 5 (DuckDB) pipeline on the agencies' files, written from Splink's documentation:
the comparator of `bench_speed.py` (issue 17). It uses no bansos-merge code.

    python benchmarks/splink_pipeline.py SAMPLE/merge.yaml OUT.parquet [--seed N] [--verbose]
    python benchmarks/splink_pipeline.py SAMPLE/merge.yaml --analyse-blocking

Reads the sources ``merge.yaml`` lists, cleans them generically, trains, predicts, clusters at
0.95 and writes ``source, record_id, cluster_id`` per row kept; prints ``SPLINK {json}`` (step
times, model figures). Each choice and the page of Splink's docs behind it: benchmarks/README.md.

Reading (pandas): ``read_csv`` (C engine, identifiers as text) with merge.yaml's delimiter and
encoding, else the delimiter under which a line of the first 64 KiB carries every mapped header
(that line is the header: regional lists have title rows) and UTF-8, falling back to cp1252;
``read_excel(engine="calamine")``, header = the first row carrying the mapped columns (an
Excel number cell arrives as an int: its digits, never a float's text). ``record_id`` = the
``id_column``, else the 1-based row number below the header (the truth's numbering). Rows
with neither a name nor a NIK are dropped.

Cleaning: upper case, trim, one space; punctuation out of names; first name = first token,
surname = last of two or more; NIK and KK = 16 digits, else missing, and placeholders (one
digit repeated) missing; dates by ``pd.to_datetime(format="mixed")``, day first unless the
source's ``date_order`` is MDY; "PLACE, DD-MM-YYYY" split; sex by first letter (L / P, W);
RT/RW without leading zeros; regions as written. Each distinct value is cleaned once.

Model: ``dedupe_only``; comparisons ``ExactMatch("nik")``, ``ForenameSurnameComparison`` (term
frequencies on the full name), ``DateOfBirthComparison``, ``ExactMatch("sex")``, one
hierarchical ``household_place`` (same KK and mother > KK > mother + village > address +
village > village + RT/RW > village > district > regency: Splink wants comparisons that are
not predictable from one another, and a family card predicts the rest), ``ExactMatch
("birth_place")`` with term frequencies; seven equi-join blocking rules counted with
``count_comparisons_from_blocking_rules`` (7.3 M comparisons at 1 M people); the prior from
deterministic rules at recall 0.7, u from 1e7 random pairs, EM on NIK then on full name +
birth date; ``predict(0.2)``, ``cluster_pairwise_predictions_at_threshold(0.95)``.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

TEXT = pd.ArrowDtype(pa.string())
FIELDS = [
    "nik", "kk", "name", "sex", "birth_place", "birth_date", "birth_place_date", "mother_name", "address",
    "rt", "rw", "village", "district", "regency", "province",
]
DELIMITERS = (",", ";", "|", "\t")
SNIFF_BYTES = 65536
HEADER_SEARCH_ROWS = 50

PREDICT_THRESHOLD = 0.2
CLUSTER_THRESHOLD = 0.95
PRIOR_RECALL = 0.7
U_MAX_PAIRS = 1e7
DEFAULT_SEED = 20261129


# ---------------------------------------------------------------- reading


def _wanted(src: dict) -> dict[str, str]:
    """File header -> canonical field, the id column included (as ``__id``)."""
    cols = {header: field for field, header in src["columns"].items() if field in FIELDS}
    if src.get("id_column"):
        cols[src["id_column"]] = "__id"
    return cols


def _sniff_csv(path: Path, src: dict, wanted: set[str]) -> tuple[str, str, int]:
    """(encoding, delimiter, header line index): merge.yaml's when given, else detected on the
    first 64 KiB."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    encoding = src.get("encoding")
    if not encoding:
        try:
            head.decode("utf-8-sig")
            encoding = "utf-8-sig"
        except UnicodeDecodeError as e:
            encoding = "utf-8-sig" if e.start > len(head) - 4 else "cp1252"  # a character cut at 64 KiB
    lines = head.decode(encoding, errors="replace").splitlines()[:HEADER_SEARCH_ROWS]
    delimiters = [src["delimiter"]] if src.get("delimiter") else DELIMITERS
    candidates = list(enumerate(lines))
    if src.get("header_row"):  # 1-based, as merge.yaml counts
        candidates = [(i, line) for i, line in candidates if i == src["header_row"] - 1]
    for i, line in candidates:
        for d in delimiters:
            if wanted <= {c.strip().strip('"').strip() for c in line.split(d)}:
                return encoding, d, i
    raise SystemExit(f"{path}: no line of the first {HEADER_SEARCH_ROWS} carries the mapped columns")


def read_csv_source(path: Path, src: dict) -> pd.DataFrame:
    wanted = _wanted(src)
    encoding, delimiter, header = _sniff_csv(path, src, set(wanted))
    kw = dict(sep=delimiter, skiprows=header, header=0, dtype=str, keep_default_na=False, na_values=[""],
              skip_blank_lines=False, usecols=list(wanted))
    try:
        df = pd.read_csv(path, encoding=encoding, **kw)
    except UnicodeDecodeError:  # a cp1252 byte past the sniffed head
        df = pd.read_csv(path, encoding="cp1252", **kw)
    return df.rename(columns=wanted)


def _excel_sheet(raw: pd.DataFrame, wanted: dict[str, str], header_row: int | None) -> pd.DataFrame | None:
    """The data rows below the header of one sheet, or None when no row carries the header."""
    if header_row:
        h = header_row - 1
    else:
        top = raw.head(HEADER_SEARCH_ROWS).astype(str).apply(lambda c: c.str.strip())
        hit = top.apply(lambda row: set(wanted) <= set(row), axis=1)
        if not hit.any():
            return None
        h = int(np.argmax(hit.to_numpy()))
    header = raw.iloc[h].astype(str).str.strip()
    body = raw.iloc[h + 1:].set_axis(header, axis=1)
    body = body.loc[:, ~body.columns.duplicated()][list(wanted)].rename(columns=wanted)
    return body.reset_index(drop=True)


def read_excel_source(path: Path, src: dict) -> pd.DataFrame:
    wanted = _wanted(src)
    sheets = pd.read_excel(path, sheet_name=src.get("sheet"), header=None, dtype=object, engine="calamine")
    if isinstance(sheets, pd.DataFrame):
        sheets = {src["sheet"]: sheets}
    parts = [p for p in (_excel_sheet(raw, wanted, src.get("header_row")) for raw in sheets.values()) if p is not None]
    if not parts:
        raise SystemExit(f"{path}: no sheet carries the mapped columns")
    if len(parts) > 1:
        raise SystemExit(f"{path}: several sheets carry the mapped columns (name one with `sheet:`)")
    return parts[0]


def _as_text(s: pd.Series) -> pd.Series:
    """Cells as text: an int stays its digits (an Excel number), None stays missing."""
    if pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):  # CSV columns: text already
        return s.astype(TEXT)
    return s.astype(str).where(s.notna(), None).astype(TEXT)


def read_source(base: Path, src: dict) -> pd.DataFrame:
    """One source's rows: source, record_id, the canonical fields (text; birth_date may hold
    Excel dates), dayfirst."""
    paths = sorted(glob.glob(str(base / src["path"])))
    if len(paths) != 1:
        raise SystemExit(f"source {src['name']}: {len(paths)} files match {src['path']} (this pipeline reads one)")
    path = Path(paths[0])
    df = read_excel_source(path, src) if path.suffix.lower() in (".xlsx", ".xls", ".xlsm", ".ods") else read_csv_source(path, src)
    row_number = pd.Series(np.arange(1, len(df) + 1), index=df.index).astype(str)
    out = pd.DataFrame({"source": src["name"]}, index=df.index)
    out["record_id"] = _as_text(df["__id"]).fillna(row_number) if "__id" in df else row_number
    for field in FIELDS:
        if field in df:
            out[field] = df[field] if field == "birth_date" else _as_text(df[field])
        elif field in (src.get("defaults") or {}):
            out[field] = pd.Series(str(src["defaults"][field]), index=df.index, dtype=TEXT)
    out["dayfirst"] = str(src.get("date_order", "DMY")).upper() != "MDY"
    return out


def read_sources(config_path: Path) -> pd.DataFrame:
    config = yaml.safe_load(config_path.read_text())
    base = config_path.parent
    return pd.concat([read_source(base, src) for src in config["sources"]], ignore_index=True)


# ---------------------------------------------------------------- cleaning


def _per_value(fn):
    """Apply a cleaning function once per distinct value (regions, places and common names
    repeat: 1.1 M rows hold a few hundred thousand distinct names)."""
    def apply(s: pd.Series) -> pd.Series:
        codes, uniques = pd.factorize(s.astype(TEXT))
        cleaned = fn(pd.Series(uniques, dtype=TEXT))
        out = cleaned.take(np.where(codes < 0, 0, codes)) if len(uniques) else pd.Series([None] * len(s), dtype=TEXT)
        return pd.Series(out.to_numpy(), index=s.index, dtype=TEXT).where(codes >= 0, None)
    return apply


@_per_value
def _squash(s: pd.Series) -> pd.Series:
    """Upper case, trimmed, single spaces; empty -> missing."""
    s = s.str.upper().str.replace(r"\s+", " ", regex=True).str.strip()
    return s.where(s != "", None)


@_per_value
def _name(s: pd.Series) -> pd.Series:
    return _squash(s.str.replace(r"[^\p{L}\p{N}\s]+", " ", regex=True))


def _identifier(s: pd.Series) -> pd.Series:
    """16 digits, not a placeholder (one digit repeated, also with Excel's lost last digit)."""
    d = s.astype(TEXT).str.replace(r"\D+", "", regex=True)
    placeholder = d.str.match(r"^(0{15}|1{15}|2{15}|3{15}|4{15}|5{15}|6{15}|7{15}|8{15}|9{15})")
    return d.where((d.str.len() == 16) & ~placeholder.fillna(False), None)


def _dates(values: pd.Series, dayfirst: pd.Series) -> pd.Series:
    """pandas' own parser per source convention; Excel date cells pass through."""
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for flag in (True, False):
        sel = dayfirst == flag
        if sel.any():
            v = values[sel].astype(object)
            out[sel] = pd.to_datetime(v, format="mixed", dayfirst=flag, errors="coerce")
    return out.dt.date.astype(object).where(out.notna(), None)


def clean(raw: pd.DataFrame) -> pd.DataFrame:
    """The Splink input table (unique_id = row position in `raw`)."""
    def col(name: str) -> pd.Series:
        return raw[name] if name in raw else pd.Series(None, index=raw.index, dtype=TEXT)

    name = _name(col("name"))
    first = name.str.extract(r"^(?P<t>\S+)")["t"]
    surname = name.str.extract(r" (?P<t>\S+)$")["t"]  # the last of two or more tokens

    # "PLACE, DD-MM-YYYY" (regional lists): split at the last comma or space before the date
    combined = _squash(col("birth_place_date")).str.extract(
        r"^(?P<place>.*?)[,\s]*(?P<date>\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4})$"
    )
    birth_place = _squash(col("birth_place")).fillna(_squash(combined["place"]))
    birth_date_raw = col("birth_date").astype(object)
    birth_date_raw = birth_date_raw.where(birth_date_raw.notna(), combined["date"].astype(object))

    sex = _squash(col("sex")).str.slice(0, 1).map({"L": "L", "P": "P", "W": "P"}, na_action="ignore")
    df = pd.DataFrame(
        {
            "unique_id": np.arange(len(raw), dtype=np.int64),
            "first_name": first,
            "surname": surname,
            "full_name": name,
            "birth_date": _dates(birth_date_raw, raw["dayfirst"]),
            "sex": sex.astype(TEXT),
            "nik": _identifier(col("nik")),
            "kk": _identifier(col("kk")),
            "address": _squash(col("address")),
            "rt": _squash(col("rt").astype(TEXT).str.lstrip("0")),
            "rw": _squash(col("rw").astype(TEXT).str.lstrip("0")),
            "village": _squash(col("village")),
            "district": _squash(col("district")),
            "regency": _squash(col("regency")),
            "province": _squash(col("province")),
            "birth_place": birth_place,
            "mother_name": _name(col("mother_name")),
        }
    )
    return df


def splink_input(raw: pd.DataFrame) -> pd.DataFrame:
    """Cleaned rows that can be a person (a name or a NIK); unique_id = the row's position in `raw`."""
    df = clean(raw)
    return df[df["full_name"].notna() | df["nik"].notna()].reset_index(drop=True)


def print_blocking_analysis(config_path: Path) -> int:
    """Each prediction rule's comparisons alone and cumulated, counted by Splink."""
    import duckdb
    from splink import DuckDBAPI
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    df = splink_input(read_sources(config_path))
    table = DuckDBAPI(connection=duckdb.connect()).register(df, table_name="records")
    rules = blocking_rules()
    print(f"{len(df):,} records")
    print(f"{'rule':<40} {'alone':>12} {'marginal':>12} {'cumulative':>12}")
    cumulated = count_comparisons_from_blocking_rules(table, blocking_rules=rules, link_type="dedupe_only",
                                                      record_sample_proportion=1.0)
    for rule, c in zip(rules, cumulated):
        alone = count_comparisons_from_blocking_rules(table, blocking_rules=rule, link_type="dedupe_only",
                                                      record_sample_proportion=1.0)[0]
        label = " + ".join(re.findall(r"l\.\"?(\w+)", rule.get_blocking_rule("duckdb").blocking_rule_sql))
        print(f"{label[:40]:<40} {alone['marginal_comparison_count']:>12,.0f} "
              f"{c['marginal_comparison_count']:>12,.0f} {c['cumulative_comparison_count']:>12,.0f}")
    return 0


# ---------------------------------------------------------------- the model


def comparisons() -> list:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    same_village = "village_l = village_r and district_l = district_r"
    household_place = cl.CustomComparison(
        [
            cll.And(*[cll.NullLevel(c) for c in ("kk", "mother_name", "address", "village", "district", "regency")]),
            cll.CustomLevel("kk_l = kk_r and mother_name_l = mother_name_r", label_for_charts="Same KK and mother"),
            cll.ExactMatchLevel("kk").configure(label_for_charts="Same KK"),
            cll.CustomLevel(f"mother_name_l = mother_name_r and {same_village}", label_for_charts="Same mother and village"),
            cll.CustomLevel(f"address_l = address_r and {same_village}", label_for_charts="Same address and village"),
            cll.CustomLevel(f"{same_village} and rt_l = rt_r and rw_l = rw_r", label_for_charts="Same village, RT and RW"),
            cll.CustomLevel(same_village, label_for_charts="Same village"),
            cll.ExactMatchLevel("district").configure(label_for_charts="Same district"),
            cll.ExactMatchLevel("regency").configure(label_for_charts="Same regency"),
            cll.ElseLevel(),
        ],
        output_column_name="household_place",
    )
    return [
        cl.ExactMatch("nik"),
        cl.ForenameSurnameComparison("first_name", "surname", forename_surname_concat_col_name="full_name"),
        cl.DateOfBirthComparison("birth_date", input_is_string=False),
        cl.ExactMatch("sex"),
        household_place,
        cl.ExactMatch("birth_place").configure(term_frequency_adjustments=True),
    ]


def blocking_rules() -> list:
    """Prediction rules, tight ones first (counts at 1 M people in benchmarks/README.md)."""
    from splink import block_on

    return [
        block_on("nik"),
        block_on("first_name", "birth_date"),
        block_on("surname", "birth_date"),
        block_on("kk", "first_name"),
        block_on("mother_name", "birth_date"),
        block_on("birth_date", "village"),
        block_on("full_name", "village"),
    ]


def _weights(comparison: dict) -> dict[str, float]:
    """log2(m/u) of each non-null level (the match weights chart as numbers)."""
    out = {}
    for level in comparison["comparison_levels"]:
        m, u = level.get("m_probability"), level.get("u_probability")
        if not level.get("is_null_level") and m and u:
            out[level["label_for_charts"]] = round(float(np.log2(m / u)), 2)
    return out


def train_and_predict(df: pd.DataFrame, seed: int, marks: dict, verbose: bool = False) -> tuple[pd.DataFrame, dict]:
    """Splink's documented workflow on the cleaned table; returns (unique_id, cluster_id) and
    the model's figures. `marks` receives a timestamp after each step."""
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    con = duckdb.connect()
    db_api = DuckDBAPI(connection=con)
    table = db_api.register(df, table_name="records")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(table, settings, log_level=logging.INFO if verbose else logging.WARNING)
    marks["register"] = time.perf_counter()

    linker.training.estimate_probability_two_random_records_match(
        [block_on("nik", "birth_date"), block_on("full_name", "birth_date", "village")], recall=PRIOR_RECALL
    )
    marks["prior"] = time.perf_counter()
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    marks["estimate_u"] = time.perf_counter()
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("nik"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("full_name", "birth_date"))
    marks["em"] = time.perf_counter()

    predictions = linker.inference.predict(threshold_match_probability=PREDICT_THRESHOLD)
    marks["predict"] = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, CLUSTER_THRESHOLD)
    def scalar(sql: str) -> int:
        return int(con.execute(sql).fetchone()[0])

    got = con.execute(f"select unique_id, cluster_id from {clusters.physical_name}").df()  # not every column
    marks["cluster"] = time.perf_counter()

    model = linker.misc.save_model_to_json()  # the public view of the trained parameters
    info = {
        "records": len(df),
        "prior": model["probability_two_random_records_match"],
        "predicted_pairs": scalar(f"select count(*) from {predictions.physical_name}"),
        "pairs_at_cluster_threshold": scalar(
            f"select count(*) from {predictions.physical_name} where match_probability >= {CLUSTER_THRESHOLD}"),
        "match_weights": {c["output_column_name"]: _weights(c) for c in model["comparisons"]},
    }
    con.close()
    return got, info


def run(config_path: Path, out_path: Path, seed: int = DEFAULT_SEED, verbose: bool = False) -> dict:
    """Read, clean, link and cluster; write (source, record_id, cluster_id); return timings."""
    marks = {"start": time.perf_counter()}
    raw = read_sources(config_path)
    marks["read"] = time.perf_counter()
    df = splink_input(raw)
    marks["clean"] = time.perf_counter()
    got, info = train_and_predict(df, seed, marks, verbose)
    rows = got["unique_id"].to_numpy(dtype=np.int64)
    out = pd.DataFrame({"source": raw["source"].to_numpy()[rows], "record_id": raw["record_id"].to_numpy()[rows],
                        "cluster_id": got["cluster_id"].to_numpy()})
    tmp = out_path.with_suffix(".partial")
    out.to_parquet(tmp, index=False)
    os.replace(tmp, out_path)
    marks["write"] = time.perf_counter()
    names = list(marks)
    seconds = {b: round(marks[b] - marks[a], 2) for a, b in zip(names, names[1:])}
    return {"seconds": seconds, "total_s": round(marks["write"] - marks["start"], 2), **info}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", type=Path, help="the sample's merge.yaml")
    ap.add_argument("out", type=Path, nargs="?", help="clusters Parquet (source, record_id, cluster_id)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--verbose", action="store_true", help="Splink's INFO log (training iterations, timings)")
    ap.add_argument("--analyse-blocking", action="store_true",
                    help="print Splink's count of each prediction rule's comparisons, then stop")
    args = ap.parse_args(argv)
    if args.analyse_blocking:
        return print_blocking_analysis(args.config)
    if args.out is None:
        ap.error("OUT is required")
    print("SPLINK " + json.dumps(run(args.config, args.out, args.seed, args.verbose), default=float), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
