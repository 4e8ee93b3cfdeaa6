"""The figures report.html shows: pure functions over the run's tables (counts only)."""

from __future__ import annotations

import pandas as pd

from . import i18n
from .regencies import regency_label
from .workbook_content import summary_counts

TOP_REGIONS = 15


def headline(manifest: dict, records: pd.DataFrame, conflicts: pd.DataFrame, review_count: int) -> dict[str, int]:
    totals = manifest.get("totals") or {}
    sources = manifest.get("sources") or []
    persons = (manifest.get("linkage") or {}).get("persons")
    if persons is None:
        persons = int(records["person_id"].nunique()) if "person_id" in records else 0
    return {
        "rows_read": int(totals.get("rows_read", sum(s.get("rows_read", 0) for s in sources))),
        "accepted": int(totals.get("accepted", len(records))),
        "rejected": int(totals.get("rejected", sum(s.get("rejected", 0) for s in sources))),
        "persons": int(persons),
        "conflicts": int(conflicts["conflict_id"].nunique()),
        "conflict_records": int(len(conflicts)),
        "review": int(review_count),
    }


def recovered_nik(records: pd.DataFrame) -> pd.Series:
    """Per record: a NIK that lost digits, linked to a person whose full NIK starts with the
    digits that survived. A `nik_recovered` column, when the records carry one, is the answer
    already (worked out per person partition)."""
    if "nik_recovered" in records:
        return records["nik_recovered"].astype(bool)
    out = pd.Series(False, index=records.index)
    if not {"person_id", "nik", "nik_known_digits"} <= set(records.columns):
        return out
    lost = records[(records["nik_status"] == "precision_lost") & records["nik_known_digits"].notna()]
    if lost.empty:
        return out
    # Only the persons of a lost NIK: a distinct of every record's (person, NIK) took 1.7 s at 1M.
    full = records.loc[records["nik"].notna() & records["person_id"].isin(lost["person_id"].unique()), ["person_id", "nik"]]
    full = full.drop_duplicates()
    pairs = lost[["person_id", "nik_known_digits"]].reset_index().merge(full, on="person_id")
    hit = [str(n).startswith(str(k)) for n, k in zip(pairs["nik"], pairs["nik_known_digits"])]
    out[pairs.loc[hit, "index"].unique()] = True
    return out


def _source_list(manifest: dict, *frames: pd.DataFrame) -> list[dict]:
    """The sources in the manifest's order, then any other source the tables mention."""
    listed = [dict(s) for s in manifest.get("sources") or []]
    known = {s["source"] for s in listed}
    for frame in frames:
        if "source" in frame:
            for name in frame["source"].dropna().astype(str).unique():
                if name not in known:
                    listed.append({"source": name})
                    known.add(name)
    return listed


def quality_table(manifest: dict, records: pd.DataFrame, rejects: pd.DataFrame) -> list[dict]:
    """Per source: accepted records, NIK valid / invalid / missing / digits lost / recovered,
    and rejects by reason code."""
    status = records["nik_status"].astype(str) if "nik_status" in records else pd.Series("missing", index=records.index)
    recovered = recovered_nik(records)
    sources = records["source"].astype(str).to_numpy(dtype=object)
    rows = []
    for s in _source_list(manifest, records, rejects):
        name = s["source"]
        mine = sources == name
        st = status[mine]
        kind = s.get("kind")
        if kind is None and "source_kind" in records and mine.any():
            kind = str(records.loc[mine, "source_kind"].iloc[0])
        if len(rejects) and "reason_code" in rejects:
            reasons = rejects.loc[rejects["source"].astype(str) == name, "reason_code"].astype(str).value_counts()
            by_reason = {str(k): int(v) for k, v in sorted(reasons.items())}
        else:
            by_reason = dict(sorted((s.get("rejected_by_reason") or {}).items()))
        rows.append(
            {
                "source": name,
                "kind": kind,
                "accepted": int(mine.sum()),
                "nik_valid": int((st == "valid").sum()),
                "nik_invalid": int(st.isin(i18n.NIK_INVALID).sum()),
                "nik_missing": int((st == "missing").sum()),
                "nik_lost": int((st == "precision_lost").sum()),
                "nik_recovered": int(recovered[mine].sum()),
                "rejected_by_reason": by_reason,
            }
        )
    return rows


def accounting_table(manifest: dict) -> list[dict]:
    rows = []
    for s in manifest.get("sources") or []:
        read, acc, rej = int(s.get("rows_read", 0)), int(s.get("accepted", 0)), int(s.get("rejected", 0))
        rows.append({"source": s["source"], "rows_read": read, "accepted": acc, "rejected": rej, "ok": read == acc + rej})
    return rows


def kind_table(conflicts: pd.DataFrame) -> pd.DataFrame:
    """Per kind (every known kind, zeros included): conflicts, of which high / medium / low
    severity, records and persons."""
    counts = summary_counts(conflicts)["kind"]
    per_conflict = conflicts.drop_duplicates("conflict_id")
    sev = pd.crosstab(per_conflict["kind"].astype(str), per_conflict["severity"].astype(str)) if len(per_conflict) else pd.DataFrame()
    for level in i18n.SEVERITIES:
        counts[level] = sev[level].reindex(counts.index, fill_value=0).astype(int) if level in sev else 0
    return counts


def region_counts(conflicts: pd.DataFrame, lang: str) -> list[tuple[str, int]]:
    regions = summary_counts(conflicts)["regency"]
    return [(regency_label(k, lang), int(v)) for k, v in regions["conflicts"].head(TOP_REGIONS).items()]
