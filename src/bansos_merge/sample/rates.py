"""How dirty the synthetic extracts are: every rate of the generator, in one validated model.

Defaults are calibrated on the audit figures in DOMAIN.md: KPK (Jan 2021) found ~17% of DTKS
rows without a valid NIK, ~1.1% duplicate NIKs and 0.24% deceased recipients; 8% of matched aid
households in 2025 were duplicates inside one list. Rates are shares of the rows (or people) a
rule can apply to; `min_planted` keeps every planted condition present in small samples.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


def _rate(default: float, description: str):
    return Field(default, ge=0.0, le=1.0, description=description)


class CorruptionRates(BaseModel):
    """All rates of the synthetic-data generator (shares in [0, 1])."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # ---- population -------------------------------------------------------------------
    people_per_regency: int = Field(50_000, ge=1_000, description="About one sampled regency per this many people")
    deceased: float = _rate(0.006, "Share of people the civil registry records as deceased (age-weighted)")
    deceased_still_listed: float = _rate(
        0.3, "Share of deceased recipients an aid list still carries (KPK 2021: 0.24% of DTKS rows)"
    )
    absent_household: float = _rate(0.03, "Share of households absent from the civil registry")
    absent_person: float = _rate(0.02, "Share of other people absent from the civil registry (mostly children)")
    retired_district: float = _rate(0.004, "Share of people whose NIK carries a retired district code")
    registered_twice: float = _rate(
        0.003, "Share of registered adults the civil registry holds twice (data ganda: registered again after a move)"
    )
    registered_elsewhere: float = _rate(0.08, "Share of people whose NIK district is not their current one")
    default_birth_date: float = _rate(0.02, "Share of people with a default birth date (1 Jul, 31 Dec, the 15th)")
    birth_date_corrected: float = _rate(0.005, "Share of people whose recorded birth date differs from the NIK's")
    twins: float = _rate(0.015, "Share of later-born children born the same day as the previous child")
    bin_binti: float = _rate(0.08, "Share of Muslim-tradition people named with BIN/BINTI + father's name")
    child_shares_father_name: float = _rate(0.15, "Share of children whose last name part is the father's")
    phone: float = _rate(0.4, "Share of adults with a phone number")

    # ---- who is listed ----------------------------------------------------------------
    dtks_households: float = _rate(0.30, "Share of households on the Kemensos DTKS aid list")
    bpnt_households: float = _rate(0.15, "Share of households on the Kemensos BPNT card list")
    regional_households: float = _rate(0.20, "Share of households on their regency's Dinas Sosial list")

    # ---- name noise (aid lists) ---------------------------------------------------------
    name_typo: float = _rate(0.06, "Substitution, deletion, insertion or adjacent swap of one letter")
    old_spelling: float = _rate(0.04, "Pre-1972 spelling: U->OE, J->DJ, C->TJ, Y->J, SY->SJ, KH->CH, NY->NJ")
    muhammad_variant: float = _rate(0.5, "Share of MUHAMMAD names written M., MOH., MOCH., MUH., MUHAMAD ...")
    title: float = _rate(0.03, "A title added: H., HJ., DRS., S.PD ...")
    drop_name_part: float = _rate(0.04, "A middle name, clan name, BIN part or birth-order name left out")
    alias: float = _rate(0.01, "An alias written A/B or A ALS B")
    father_initial: float = _rate(0.02, "Father's initial appended (MAWARDI.Z)")
    cut_to_initials: float = _rate(0.02, "A narrow column cut the name to initials: SITI A., DEWI K, A. RAHMAN")
    case_noise: float = _rate(0.08, "Lower or title case")
    space_noise: float = _rate(0.05, "Doubled, leading or trailing spaces, or a space lost after a dot")
    accent: float = _rate(0.03, "Accented letters (É, Ü) in the Latin-1 regional list")

    # ---- NIK noise (aid lists; mutually exclusive per row) ------------------------------
    nik_missing: float = _rate(0.08, "NIK cell left empty")
    nik_typo: float = _rate(0.03, "One digit wrong")
    nik_transposition: float = _rate(0.01, "Two adjacent digits swapped")
    nik_truncated: float = _rate(0.015, "Wrong length: a digit dropped or added")
    nik_dummy: float = _rate(0.01, "A dummy such as 2222222222222222")
    nik_zeros: float = _rate(0.005, "All zeros")
    nik_kk_pasted: float = _rate(0.015, "The family card number pasted into the NIK column")
    nik_shared: float = _rate(0.01, "Another person's NIK (a household member's, else a neighbour's)")
    nik_second: float = _rate(0.003, "A second, valid-looking NIK of the same person (double registration)")
    kk_stale: float = _rate(0.03, "A family card the person has left (before a marriage or a move): an older card of the district")
    nik_numeric_cells: float = _rate(0.9, "Share of NIK/KK cells stored as numbers in the numeric regional xlsx")

    # ---- other fields (aid lists) -------------------------------------------------------
    birth_date_swap: float = _rate(0.02, "Day and month swapped (only where both are <= 12)")
    birth_date_digit: float = _rate(0.02, "One digit of the date off")
    birth_date_missing: float = _rate(0.03, "Birth date left empty")
    mismatch_birth_date: float = _rate(0.006, "Attribute mismatch: a genuinely different birth date")
    mismatch_sex: float = _rate(0.004, "Attribute mismatch: the other sex")
    sex_missing: float = _rate(0.01, "Sex left empty")
    address_variant: float = _rate(0.3, "JL./JLN./JALAN, GG./GANG, DSN./DUSUN ... rewritten")
    address_missing: float = _rate(0.03, "Address left empty")
    rt_rw_missing: float = _rate(0.05, "RT/RW left empty")
    address_newline: float = _rate(0.002, "A line break inside the address cell (a CSV field spanning lines)")

    # ---- planted conditions ---------------------------------------------------------------
    duplicate_in_source: float = _rate(0.05, "Rows listed a second time in the same list")
    duplicate_variation: float = _rate(0.5, "Share of those second rows written with variations")
    multi_region: float = _rate(0.01, "Listed people who also appear on another regency's list")
    no_name_no_nik: float = _rate(0.001, "Rows with neither a name nor a NIK")
    min_planted: int = Field(2, ge=0, description="Plant at least this many of each condition (small samples)")

    # ---- oversight: region codes and exclusion lists (sample/oversight.py) -------------------
    nik_region_never_existed: float = _rate(
        0.002, "Aid-list rows whose NIK carries a province or regency code that never existed (an invalid NIK)"
    )
    excluded_recipients: float = _rate(
        0.006, "Share of listed working-age people also on the civil-servant exclusion list (KPK 2021: ~600,000 "
        "soldiers, police and civil servants on the 97M-person DTKS)"
    )
    exclusion_employees: float = _rate(0.03, "Share of other working-age adults on the exclusion list (not recipients)")
    exclusion_nik_missing: float = _rate(0.01, "Exclusion-list rows without a NIK")
