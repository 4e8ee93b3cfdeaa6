"""Every string a person reads in `conflicts.xlsx` and `report.html`, in Bahasa Indonesia
(the default) and English.

`t(key, lang, **values)` looks a string up and fills its `{placeholders}`; the labels of
codes (conflict kinds, severities, fields, NIK statuses, reject reasons) have their own
helpers that fall back to the code itself, so a new code from upstream shows up as its code
rather than crashing a report. A test checks that both languages carry the same keys.
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping

from .conflicts import KINDS

LANGUAGES = ("id", "en")

# KINDS (from conflicts): the conflict kinds in the order reports list them, most serious first.
SEVERITIES = ("high", "medium", "low")

# NIK statuses grouped the way the data-quality table counts them.
NIK_INVALID = ("malformed", "dummy", "kk_as_nik", "invalid_date", "region_never_existed", "serial_zero")

_ID: dict[str, str] = {
    # workbook
    "sheet.summary": "Ringkasan",
    "summary.title": "Ringkasan konflik antar-daftar penerima bantuan sosial",
    "summary.note": "NIK dan No. KK disamarkan (4 digit awal dan 4 digit akhir). Klik jenis konflik untuk membuka lembarnya.",
    "summary.note_full": "PERHATIAN: NIK dan No. KK ditampilkan lengkap. Ini data pribadi (UU PDP No. 27/2022): jangan dibagikan.",
    "summary.queue": "Antrean tinjauan: {pairs} pasangan dalam {items} butir ({groups} kelompok), perkiraan {errors} keputusan keliru yang diperbaiki; {done} pasangan sudah diputuskan analis ({share} dari pekerjaan). Antrean lengkap ada di review.parquet dan aplikasi tinjauan.",
    "summary.truncated": "Setiap lembar jenis konflik memuat paling banyak {n} baris, yang paling parah dahulu; daftar lengkap ada di conflicts.parquet.",
    "summary.by_kind": "Menurut jenis konflik",
    "summary.by_source": "Menurut sumber data",
    "summary.by_region": "Menurut wilayah (kabupaten/kota)",
    "summary.total": "Jumlah",
    "summary.unknown_region": "(wilayah tidak diketahui)",
    "col.kind": "Jenis konflik",
    "col.description": "Keterangan",
    "col.conflicts": "Konflik",
    "col.records": "Catatan terlibat",
    "col.persons": "Orang",
    "col.source": "Sumber",
    "col.regency": "Kabupaten/kota",
    "col.conflict_id": "ID konflik",
    "col.severity": "Tingkat",
    "col.person_id": "ID orang",
    "col.record_id": "ID catatan",
    "col.field": "Kolom",
    "col.value": "Nilai catatan ini",
    "col.values": "Nilai yang bertentangan",
    "col.explanation": "Penjelasan",
    "col.name": "Nama",
    "col.nik": "NIK",
    "col.birth_date": "Tanggal lahir",
    "col.sex": "Jenis kelamin",
    "col.village": "Desa/kelurahan",
    # report
    "report.title": "Laporan penggabungan data penerima bantuan sosial",
    "report.subtitle": "Ringkasan proses: jumlah baris, kualitas data per sumber, dan konflik antar-daftar.",
    "report.run_id": "ID proses",
    "report.started": "Mulai",
    "report.finished": "Selesai",
    "report.schema": "Versi skema",
    "report.generated": "Laporan dibuat",
    "report.contents": "Isi",
    "report.config": "Konfigurasi (sha256)",
    "report.privacy": "Halaman ini hanya memuat angka agregat, tanpa data pribadi. Rincian per orang ada di conflicts.xlsx dan review.parquet.",
    "report.headline": "Angka utama",
    "report.rows_read": "Baris dibaca",
    "report.of_read": "{pct} dari baris dibaca",
    "report.of_accepted": "{pct} dari catatan diterima",
    "report.distinct_conflicts": "dalam {n} jenis",
    "report.pairs_waiting": "pasangan menunggu keputusan",
    "report.queue_detail": "{items} butir; perkiraan {errors} keputusan keliru yang diperbaiki; {done} selesai",
    "report.accepted": "Diterima",
    "report.rejected": "Ditolak",
    "report.persons": "Orang (hasil penautan)",
    "report.conflicts": "Konflik",
    "report.conflict_records": "Catatan dalam konflik",
    "report.review": "Antrean tinjauan",
    "report.charts": "Sebaran konflik",
    "report.chart_kind": "Konflik menurut jenis",
    "report.chart_region": "Konflik menurut kabupaten/kota (15 teratas)",
    "report.chart_empty": "Tidak ada konflik.",
    "report.chart_desc": "Diagram batang: {items}.",
    "report.quality": "Kualitas data per sumber",
    "report.quality_note": "NIK dihitung dari catatan yang diterima. \u201cDipulihkan\u201d: NIK yang kehilangan digit di Excel tetapi tertaut ke orang yang NIK lengkapnya cocok dengan digit yang tersisa.",
    "report.kind_col": "Jenis sumber",
    "report.nik_valid": "NIK valid",
    "report.nik_invalid": "NIK tidak valid",
    "report.nik_missing": "NIK kosong",
    "report.nik_lost": "Digit hilang",
    "report.nik_recovered": "Dipulihkan",
    "report.rejects_by_reason": "Ditolak menurut alasan",
    "report.accounting": "Pertanggungjawaban baris",
    "report.accounting_note": "Setiap baris yang dibaca harus diterima atau ditolak: dibaca = diterima + ditolak.",
    "report.sum": "Diterima + ditolak",
    "report.check": "Cocok",
    "report.ok": "cocok",
    "report.not_ok": "TIDAK cocok",
    "report.total": "Jumlah",
    "report.by_kind": "Konflik menurut jenis",
    "report.kinds_note": "Satu konflik melibatkan satu catatan atau lebih; tingkat konflik dihitung per konflik. Rinciannya ada di conflicts.xlsx.",
    "report.severity": "Tingkat",
    "report.none": "tidak ada",
    "report.footer": "Dibuat oleh",
    "report.lang_name": "Bahasa Indonesia",
    "source_kind.civil_registry": "Catatan sipil (Dukcapil)",
    "source_kind.aid_list": "Daftar bantuan",
    "source_kind.exclusion_list": "Daftar pengecualian",
    # explanations, per conflict kind
    "explain.nik_shared": "NIK {value} dipakai oleh {n_persons} orang berbeda ({n_records} catatan).",
    "explain.multiple_nik": "Orang yang sama tercatat dengan {n_values} NIK berbeda: {values}.",
    "explain.invalid_nik": "NIK catatan ini tidak dapat dipakai ({status}): {value}.",
    "explain.invalid_nik_plain": "NIK catatan ini tidak valid atau kehilangan digit di Excel: {value}.",
    "explain.attribute_mismatch": "Catatan yang tertaut ke orang yang sama berbeda pada {field}: {values}.",
    "explain.deceased": "Tercatat meninggal dunia di catatan sipil, tetapi masih ada di daftar bantuan ({sources}).",
    "explain.ineligible": "Penerima bantuan ini ada di daftar pengecualian ({values}), misalnya sebagai ASN, TNI/Polri atau pegawai BUMN.",
    "explain.duplicate_in_source": "Orang yang sama tercantum {n_records} kali dalam daftar {source}.",
    "explain.multi_region": "Orang yang sama terdaftar di {n_values} wilayah berbeda: {values}.",
    "explain.unmatched_civil_registry": "Penerima bantuan ini tidak ditemukan padanannya di catatan sipil.",
    "explain.review_needed": "Pasangan catatan ini berada di zona ragu-ragu dan menunggu keputusan analis.",
    "explain.other": "{kind}: {values}.",
}

_EN: dict[str, str] = {
    "sheet.summary": "Summary",
    "summary.title": "Summary of conflicts between social-assistance recipient lists",
    "summary.note": "NIK and KK numbers are masked (first 4 and last 4 digits shown). Click a conflict kind to open its sheet.",
    "summary.note_full": "WARNING: NIK and KK numbers are shown in full. This is personal data (Law 27/2022 on PDP): do not share.",
    "summary.queue": "Review queue: {pairs} pairs in {items} items ({groups} groups), about {errors} wrong decisions to fix; {done} pairs already decided by analysts ({share} of the work). The whole queue is in review.parquet and the review app.",
    "summary.truncated": "Each conflict-kind sheet holds at most {n} rows, most severe first; the full list is in conflicts.parquet.",
    "summary.by_kind": "By conflict kind",
    "summary.by_source": "By source",
    "summary.by_region": "By region (regency/city)",
    "summary.total": "Total",
    "summary.unknown_region": "(region unknown)",
    "col.kind": "Conflict kind",
    "col.description": "Description",
    "col.conflicts": "Conflicts",
    "col.records": "Records involved",
    "col.persons": "Persons",
    "col.source": "Source",
    "col.regency": "Regency/city",
    "col.conflict_id": "Conflict ID",
    "col.severity": "Severity",
    "col.person_id": "Person ID",
    "col.record_id": "Record ID",
    "col.field": "Field",
    "col.value": "This record's value",
    "col.values": "Conflicting values",
    "col.explanation": "Explanation",
    "col.name": "Name",
    "col.nik": "NIK",
    "col.birth_date": "Birth date",
    "col.sex": "Sex",
    "col.village": "Village",
    "report.title": "Social-assistance recipient merge report",
    "report.subtitle": "Run summary: row counts, data quality per source, and conflicts between the lists.",
    "report.run_id": "Run ID",
    "report.started": "Started",
    "report.finished": "Finished",
    "report.schema": "Schema version",
    "report.generated": "Report generated",
    "report.contents": "Contents",
    "report.config": "Configuration (sha256)",
    "report.privacy": "This page holds aggregate counts only, no personal data. Per-person detail is in conflicts.xlsx and review.parquet.",
    "report.headline": "Headline numbers",
    "report.rows_read": "Rows read",
    "report.of_read": "{pct} of rows read",
    "report.of_accepted": "{pct} of accepted records",
    "report.distinct_conflicts": "across {n} kinds",
    "report.pairs_waiting": "pairs awaiting a decision",
    "report.queue_detail": "{items} items; about {errors} wrong decisions to fix; {done} done",
    "report.accepted": "Accepted",
    "report.rejected": "Rejected",
    "report.persons": "Persons (after linkage)",
    "report.conflicts": "Conflicts",
    "report.conflict_records": "Records in conflicts",
    "report.review": "Review queue",
    "report.charts": "Where the conflicts are",
    "report.chart_kind": "Conflicts by kind",
    "report.chart_region": "Conflicts by regency/city (top 15)",
    "report.chart_empty": "No conflicts.",
    "report.chart_desc": "Bar chart: {items}.",
    "report.quality": "Data quality per source",
    "report.quality_note": "NIKs are counted over accepted records. \u201cRecovered\u201d: a NIK that lost digits in Excel but is linked to a person whose full NIK matches the digits that survived.",
    "report.kind_col": "Source kind",
    "report.nik_valid": "NIK valid",
    "report.nik_invalid": "NIK invalid",
    "report.nik_missing": "NIK missing",
    "report.nik_lost": "Digits lost",
    "report.nik_recovered": "Recovered",
    "report.rejects_by_reason": "Rejected by reason",
    "report.accounting": "Row accounting",
    "report.accounting_note": "Every row read must be accepted or rejected: read = accepted + rejected.",
    "report.sum": "Accepted + rejected",
    "report.check": "Balanced",
    "report.ok": "balanced",
    "report.not_ok": "NOT balanced",
    "report.total": "Total",
    "report.by_kind": "Conflicts by kind",
    "report.kinds_note": "A conflict involves one record or more; severities count conflicts. The detail is in conflicts.xlsx.",
    "report.severity": "Severity",
    "report.none": "none",
    "report.footer": "Generated by",
    "report.lang_name": "English",
    "source_kind.civil_registry": "Civil registry (Dukcapil)",
    "source_kind.aid_list": "Aid list",
    "source_kind.exclusion_list": "Exclusion list",
    "explain.nik_shared": "NIK {value} is used by {n_persons} different people ({n_records} records).",
    "explain.multiple_nik": "The same person is recorded with {n_values} different NIKs: {values}.",
    "explain.invalid_nik": "This record's NIK is not usable ({status}): {value}.",
    "explain.invalid_nik_plain": "This record's NIK is invalid or lost digits in Excel: {value}.",
    "explain.attribute_mismatch": "Records linked to the same person disagree on {field}: {values}.",
    "explain.deceased": "Recorded as deceased in the civil registry but still on an aid list ({sources}).",
    "explain.ineligible": "This aid recipient is on an exclusion list ({values}), e.g. as a civil servant, soldier, police officer or state-enterprise employee.",
    "explain.duplicate_in_source": "The same person is listed {n_records} times in {source}.",
    "explain.multi_region": "The same person is listed in {n_values} different regions: {values}.",
    "explain.unmatched_civil_registry": "This aid recipient has no match in the civil registry.",
    "explain.review_needed": "This pair of records is in the review band and awaits an analyst's decision.",
    "explain.other": "{kind}: {values}.",
}

_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "kind": {
        "id": {
            "nik_shared": "NIK dipakai bersama",
            "multiple_nik": "Lebih dari satu NIK",
            "invalid_nik": "NIK tidak valid",
            "attribute_mismatch": "Data diri tidak cocok",
            "deceased": "Tercatat meninggal",
            "ineligible": "Tidak berhak (dikecualikan)",
            "duplicate_in_source": "Ganda dalam satu daftar",
            "multi_region": "Terdaftar di banyak wilayah",
            "unmatched_civil_registry": "Tidak ada di Dukcapil",
            "review_needed": "Perlu ditinjau",
        },
        "en": {
            "nik_shared": "Shared NIK",
            "multiple_nik": "Several NIKs",
            "invalid_nik": "Invalid NIK",
            "attribute_mismatch": "Attribute mismatch",
            "deceased": "Recorded as deceased",
            "ineligible": "Ineligible (excluded)",
            "duplicate_in_source": "Duplicate within a list",
            "multi_region": "Listed in several regions",
            "unmatched_civil_registry": "Not in civil registry",
            "review_needed": "Needs review",
        },
    },
    "kind_help": {
        "id": {
            "nik_shared": "Catatan milik orang yang berbeda memakai NIK yang sama.",
            "multiple_nik": "Satu orang memakai beberapa NIK yang tampak sah.",
            "invalid_nik": "NIK kosong, gagal validasi (misalnya kode wilayah yang tidak pernah ada) atau kehilangan digit di Excel.",
            "attribute_mismatch": "Catatan yang tertaut berbeda pada tanggal lahir, jenis kelamin atau wilayah.",
            "deceased": "Penerima bantuan tercatat meninggal dunia di catatan sipil.",
            "ineligible": "Penerima bantuan ada di daftar pengecualian (ASN, TNI/Polri, BUMN, upah di atas batas).",
            "duplicate_in_source": "Orang yang sama tercantum dua kali dalam satu daftar.",
            "multi_region": "Orang yang sama ada di daftar dua wilayah.",
            "unmatched_civil_registry": "Penerima bantuan tanpa padanan di catatan sipil.",
            "review_needed": "Pasangan catatan menunggu keputusan analis.",
        },
        "en": {
            "nik_shared": "Records of different people carry the same NIK.",
            "multiple_nik": "One person carries several valid-looking NIKs.",
            "invalid_nik": "A NIK that is missing, fails validation (a region code that never existed, say) or lost digits in Excel.",
            "attribute_mismatch": "Linked records disagree on birth date, sex or region.",
            "deceased": "An aid recipient whom the civil registry records as deceased.",
            "ineligible": "An aid recipient on an exclusion list (civil servant, TNI/Polri, BUMN, wage above threshold).",
            "duplicate_in_source": "The same person listed twice in one list.",
            "multi_region": "The same person on the lists of two regions.",
            "unmatched_civil_registry": "An aid recipient with no match in the civil registry.",
            "review_needed": "A pair of records awaiting an analyst's decision.",
        },
    },
    "severity": {
        "id": {"high": "tinggi", "medium": "sedang", "low": "rendah"},
        "en": {"high": "high", "medium": "medium", "low": "low"},
    },
    "field": {
        "id": {
            "nik": "NIK",
            "kk": "No. KK",
            "name": "nama",
            "birth_place": "tempat lahir",
            "birth_date": "tanggal lahir",
            "sex": "jenis kelamin",
            "address": "alamat",
            "rt": "RT",
            "rw": "RW",
            "village": "desa/kelurahan",
            "district": "kecamatan",
            "regency": "kabupaten/kota",
            "province": "provinsi",
            "status": "status hidup",
            "death_date": "tanggal meninggal",
            "program": "program",
            "exclusion": "daftar pengecualian",
        },
        "en": {
            "nik": "NIK",
            "kk": "KK number",
            "name": "name",
            "birth_place": "birth place",
            "birth_date": "birth date",
            "sex": "sex",
            "address": "address",
            "rt": "RT",
            "rw": "RW",
            "village": "village",
            "district": "district",
            "regency": "regency/city",
            "province": "province",
            "status": "alive/deceased",
            "death_date": "death date",
            "program": "program",
            "exclusion": "exclusion list",
        },
    },
    "nik_status": {
        "id": {
            "valid": "valid",
            "missing": "kosong",
            "malformed": "format salah",
            "dummy": "NIK fiktif",
            "kk_as_nik": "No. KK di kolom NIK",
            "precision_lost": "digit hilang di Excel",
            "invalid_date": "tanggal dalam NIK mustahil",
            "serial_zero": "nomor urut 0000",
            "region_never_existed": "kode wilayah tidak pernah ada",
        },
        "en": {
            "valid": "valid",
            "missing": "missing",
            "malformed": "malformed",
            "dummy": "dummy NIK",
            "kk_as_nik": "KK number in the NIK column",
            "precision_lost": "digits lost in Excel",
            "invalid_date": "impossible date in the NIK",
            "serial_zero": "serial 0000",
            "region_never_existed": "region code that never existed",
        },
    },
    "reject_reason": {
        "id": {
            "blank_row": "baris kosong",
            "header_repeat": "judul kolom berulang",
            "totals_row": "baris jumlah",
            "no_name_no_nik": "tanpa nama dan NIK",
            "field_count": "jumlah kolom salah",
        },
        "en": {
            "blank_row": "blank row",
            "header_repeat": "repeated header",
            "totals_row": "totals row",
            "no_name_no_nik": "no name and no NIK",
            "field_count": "wrong number of fields",
        },
    },
}

STRINGS: dict[str, dict[str, str]] = {"id": _ID, "en": _EN}

_MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"),
}


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {lang!r}")
    return lang


def t(key: str, lang: str, **values: object) -> str:
    """The string `key` in `lang`, with `{placeholders}` filled from `values`."""
    text = STRINGS[check_language(lang)][key]
    return text.format(**values) if values else text


def label(group: str, code: object, lang: str) -> str:
    """The label of a code (group: kind, kind_help, severity, field, nik_status, reject_reason);
    an unknown code is shown as itself."""
    if code is None or (isinstance(code, float) and code != code):
        return ""
    return _LABELS[group][check_language(lang)].get(str(code), str(code))


def sheet_title(kind: str, lang: str) -> str:
    """A worksheet title for a conflict kind: the translated label, valid and at most 31 chars."""
    title = label("kind", kind, lang)
    for ch in "[]:*?/\\":
        title = title.replace(ch, "-")
    return title.strip("'")[:31] or "-"


def fmt_int(n: int | float, lang: str) -> str:
    """12345 -> '12.345' (id) or '12,345' (en)."""
    text = f"{int(n):,}"
    return text.replace(",", ".") if check_language(lang) == "id" else text


def fmt_pct(part: int, whole: int, lang: str) -> str:
    if not whole:
        return "\u2013"
    text = f"{100 * part / whole:.1f}%"
    return text.replace(".", ",") if check_language(lang) == "id" else text


def fmt_datetime(value: object, lang: str) -> str:
    """An ISO timestamp as '29 November 2026 08:12:03 UTC'; unreadable values as given, absent as '–'."""
    if value is None or value == "":
        return "\u2013"
    try:
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc)
    month = _MONTHS[check_language(lang)][when.month - 1]
    return f"{when.day} {month} {when.year} {when:%H:%M:%S} UTC"


def explain(kind: str, lang: str, fields: Mapping[str, object]) -> str:
    """The explanation of one conflict row, from its kind's template.

    `fields` carries: value, values, field (a code), source, sources, n_values, n_persons,
    n_records, status (a NIK status code or None).
    """
    f = dict(fields)
    f["field"] = label("field", f.get("field"), lang) or "-"
    f["kind"] = label("kind", kind, lang)
    for key in ("value", "values", "source", "sources"):
        f[key] = "-" if f.get(key) in (None, "") else f[key]
    key = f"explain.{kind}"
    if kind == "invalid_nik":
        status = f.get("status")
        if status and status != "valid":
            f["status"] = label("nik_status", status, lang)
        else:
            key = "explain.invalid_nik_plain"
    if key not in STRINGS[lang]:
        key = "explain.other"
    return STRINGS[lang][key].format(**f)
