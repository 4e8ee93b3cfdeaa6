"""Which people each agency lists, and the rows of every extract in file order.

An extract is a table of rows in the order they are written, garbage rows included, with
the values as written (after corruption) and labels of what was planted. The writers only
render these rows; the truth is read off them, so the files and the truth agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..regions import load_regions
from . import corrupt as cr
from .draw import digits, weighted_sample
from .garbage import add_garbage
from .population import PLACES, REF_DATE, STREETS, Population
from .rates import CorruptionRates

# The columns of aid-list rows (civil-registry rows: person, garbage, record_id, nik, nik_numeric).
ROW_COLUMNS = (
    "person", "garbage", "record_id", "program", "hh_size",
    "province_code", "regency_code", "district_code", "village_code", "address", "rt", "rw",
    "nik", "kk", "name", "sex", "birth_date", "birth_place", "mother_name", "phone",
    "nik_kind", "bd_kind", "sex_kind", "duplicate", "moved", "nik_numeric",
)


@dataclass
class Extract:
    name: str  # source name in merge.yaml
    kind: str  # civil_registry | aid_list
    fmt: str  # dukcapil_csv | dtks_xlsx | bpnt_csv | bnba_xlsx | latin1_csv
    filename: str
    rows: pd.DataFrame  # file order, garbage included
    id_column: str | None = None
    regency_code: str | None = None
    options: dict = field(default_factory=dict)


def slug(regency_name: str) -> str:
    s = regency_name.lower().replace("kabupaten ", "kab ").replace("kota adm. ", "kota ")
    return "".join(c if c.isalnum() else "_" for c in s).strip("_")


# ------------------------------------------------------------------------------ who is listed


@dataclass
class ListPlan:
    name: str
    fmt: str
    persons: np.ndarray
    program: np.ndarray
    regency_code: str | None = None
    options: dict = field(default_factory=dict)


def plan_lists(rng: np.random.Generator, pop: Population, rates: CorruptionRates) -> list[ListPlan]:
    """The aid lists and the (true) person behind each of their rows, before any planting."""
    hh = pop.households
    H = len(hh)
    head = hh["head"].to_numpy()
    has_sp = hh["has_spouse"].to_numpy()
    n_children = hh["size"].to_numpy() - 1 - has_sp
    hh_reg = pop.villages["regency_code"].to_numpy()[hh["village"].to_numpy()]
    plans: list[ListPlan] = []

    dtks = np.flatnonzero(rng.random(H) < rates.dtks_households)
    pkh = (n_children[dtks] > 0) & (rng.random(len(dtks)) < 0.6)
    mother = pkh & has_sp[dtks] & (rng.random(len(dtks)) < 0.7)
    plans.append(
        ListPlan("dtks", "dtks_xlsx", head[dtks] + mother, np.where(pkh, "PKH", "BPNT").astype(object))
    )

    in_dtks = np.zeros(H, dtype=bool)
    in_dtks[dtks] = True
    bpnt_dtks = np.zeros(H, dtype=bool)
    bpnt_dtks[dtks[~pkh]] = True
    w = np.where(bpnt_dtks, 6.0, np.where(in_dtks, 2.0, 1.0))
    bpnt = weighted_sample(rng, w, int(round(rates.bpnt_households * H)))
    spouse = has_sp[bpnt] & (rng.random(len(bpnt)) < 0.15)
    plans.append(ListPlan("bpnt", "bpnt_csv", head[bpnt] + spouse, np.full(len(bpnt), "BPNT", dtype=object)))

    regs = pop.regencies
    order = rng.permutation(len(regs))
    n_lists = int(min(len(regs), max(2, np.ceil(len(regs) / 2))))
    chosen = list(order[:n_lists])
    kota = [i for i in chosen if regs["regency_name"].iloc[i].startswith("Kota")]
    if kota and chosen[1] != kota[0]:  # a city office writes the Latin-1 CSV without a regency column
        j = chosen.index(kota[0])
        chosen[1], chosen[j] = chosen[j], chosen[1]
    for k, i in enumerate(chosen):
        code, rname = regs["regency_code"].iloc[i], regs["regency_name"].iloc[i]
        members = np.flatnonzero(hh_reg == code)
        w = np.where(in_dtks[members], 2.0, 1.0)
        pick = members[weighted_sample(rng, w, max(5, int(round(rates.regional_households * len(members)))))]
        fmt = "bnba_xlsx" if k % 2 == 0 else "latin1_csv"
        persons = head[pick]
        if fmt == "latin1_csv":
            persons = persons + (has_sp[pick] & (rng.random(len(pick)) < 0.2))
        options = {"numeric_nik": k == 0, "date_order": "MDY" if k == 0 else "DMY"}
        plans.append(
            ListPlan(f"dinsos_{slug(rname)}", fmt, persons, np.full(len(pick), "", dtype=object), code, options)
        )
    return plans


def ensure_listed_conditions(rng: np.random.Generator, pop: Population, plans: list[ListPlan], rates) -> None:
    """Drop most deceased from the lists; in small samples make sure some listed people are
    deceased and some are absent from Dukcapil."""
    ppl = pop.people
    alive = ppl["alive"].to_numpy()
    present = ppl["in_civil_registry"].to_numpy()
    # lists are partly cleaned of the deceased, each on its own schedule
    for plan in plans:
        keep = alive[plan.persons] | (rng.random(len(plan.persons)) < rates.deceased_still_listed)
        plan.persons, plan.program = plan.persons[keep], plan.program[keep]
    listed = np.unique(np.concatenate([p.persons for p in plans]))
    need = rates.min_planted - int((~alive[listed] & present[listed]).sum())
    if need > 0 and rates.deceased > 0:
        cand = listed[alive[listed] & present[listed]]
        births = ppl["birth_date"].to_numpy().astype("datetime64[D]")
        age = (REF_DATE - births[cand]).astype(np.int64) / 365.25
        dead = cand[weighted_sample(rng, np.exp((age - 60) / 12), need)]
        birth = births[dead]
        lo = np.maximum(birth + 1, REF_DATE - 3 * 365)
        span = np.maximum((REF_DATE - 1 - lo).astype(np.int64), 0)
        ppl.loc[dead, "alive"] = False
        ppl.loc[dead, "death_date"] = lo + (rng.random(len(dead)) * span).astype(np.int64)
    alive = ppl["alive"].to_numpy()
    need = rates.min_planted - int((~present[listed]).sum())
    if need > 0 and (rates.absent_household > 0 or rates.absent_person > 0):
        cand = listed[alive[listed] & present[listed]]
        gone = np.sort(rng.choice(cand, size=min(need, len(cand)), replace=False))
        ppl.loc[gone, "in_civil_registry"] = False


# ------------------------------------------------------------------------------ rows


def _base_rows(pop: Population, persons: np.ndarray, program: np.ndarray) -> pd.DataFrame:
    p = pop.people
    hh = pop.households
    sel = p.iloc[persons]
    df = pd.DataFrame(
        {
            "person": persons.astype(np.int64),
            "garbage": "",
            "record_id": "",
            "program": program,
            "hh_size": hh["size"].to_numpy()[sel["household"].to_numpy()],
            "province_code": sel["province_code"].to_numpy(),
            "regency_code": sel["regency_code"].to_numpy(),
            "district_code": sel["district_code"].to_numpy(),
            "village_code": sel["village_code"].to_numpy(),
            "address": sel["address"].to_numpy(),
            "rt": sel["rt"].to_numpy(),
            "rw": sel["rw"].to_numpy(),
            "nik": sel["nik"].to_numpy(),
            "kk": sel["kk"].to_numpy(),
            "name": sel["name"].to_numpy(),
            "sex": sel["sex"].to_numpy(),
            "birth_date": sel["birth_date"].to_numpy(),
            "birth_place": sel["birth_place"].to_numpy(),
            "mother_name": sel["mother_name"].to_numpy(),
            "phone": sel["phone"].to_numpy(),
            "nik_kind": "",
            "bd_kind": "",
            "sex_kind": "",
            "duplicate": False,
            "moved": False,
        }
    )
    return df


def _new_places(rng: np.random.Generator, pop: Population, regency: np.ndarray) -> pd.DataFrame:
    """A random sampled village and a fresh address in each given regency."""
    v = pop.villages
    out = []
    for code in regency:
        cand = np.flatnonzero(v["regency_code"].to_numpy() == code)
        out.append(cand[rng.integers(0, len(cand))])
    vv = v.iloc[np.array(out, dtype=np.int64)]
    n = len(vv)
    street = STREETS[rng.integers(0, len(STREETS), n)]
    place = PLACES[rng.integers(0, len(PLACES), n)]
    address = np.where(
        rng.random(n) < 0.6, "JL. " + street + " NO. " + digits(rng.integers(1, 120, n), 1), "KP. " + place
    )
    return pd.DataFrame(
        {
            "province_code": vv["province_code"].to_numpy(),
            "regency_code": vv["regency_code"].to_numpy(),
            "district_code": vv["district_code"].to_numpy(),
            "village_code": vv["village_code"].to_numpy(),
            "address": address,
            "rt": digits(rng.integers(1, 9, n), 3),
            "rw": digits(rng.integers(1, 10, n), 3),
        }
    )


def donor_niks(rng: np.random.Generator, pop: Population, persons: np.ndarray) -> np.ndarray:
    """Another person's NIK for each person: the head's (or the spouse's, for the head), else a neighbour's."""
    p, hh = pop.people, pop.households
    nik = p["nik"].to_numpy()
    h = p["household"].to_numpy()[persons]
    head = hh["head"].to_numpy()[h]
    size = hh["size"].to_numpy()[h]
    other = np.where(persons != head, head, np.where(size > 1, head + 1, -1))
    # neighbours: a random person of the same village
    vill = p["village_code"].to_numpy()
    order = np.argsort(vill, kind="stable")
    codes, start, count = np.unique(vill[order], return_index=True, return_counts=True)
    vi = np.searchsorted(codes, vill[persons])
    nb = order[start[vi] + rng.integers(0, 1 << 30, len(persons)) % count[vi]]
    other = np.where(other < 0, nb, other)
    out = nik[other].astype(object)
    out[other == persons] = ""
    return out


def second_niks(rng: np.random.Generator, pop: Population, persons: np.ndarray) -> np.ndarray:
    """A second well-formed NIK per person: another district of the regency, same date, high serial."""
    p = pop.people
    regions = load_regions().regions
    dist = regions[regions["level"] == "district"]
    reg = p["regency_code"].to_numpy()[persons]
    nik = p["nik"].to_numpy()[persons]
    out = np.empty(len(persons), dtype=object)
    by_reg = dist.groupby("parent")["code"].apply(lambda s: s.to_numpy())
    pick = rng.integers(0, 1 << 30, len(persons))
    serial = digits(rng.integers(5000, 10000, len(persons)), 4)
    for i, (r, n_, k, s) in enumerate(zip(reg, nik, pick, serial)):
        codes = by_reg[r]
        d = codes[k % len(codes)]
        if d == n_[:6] and len(codes) > 1:
            d = codes[(k + 1) % len(codes)]
        out[i] = d + n_[6:12] + s
    return out


def corrupt_rows(rng: np.random.Generator, pop: Population, df: pd.DataFrame, rates: CorruptionRates,
                 accent: bool = False) -> pd.DataFrame:
    p = pop.people
    persons = df["person"].to_numpy()
    female = p["female"].to_numpy()[persons]
    father = p["father_name"].to_numpy()[persons]
    alt = p["alt_name"].to_numpy()[persons]
    df["name"] = cr.corrupt_names(rng, df["name"].to_numpy(), female, father, alt, rates, accent=accent)
    df["nik"], df["nik_kind"] = cr.corrupt_niks(
        rng, df["nik"].to_numpy(), df["kk"].to_numpy(), donor_niks(rng, pop, persons),
        second_niks(rng, pop, persons), rates,
    )
    df["birth_date"], df["bd_kind"] = cr.corrupt_birth_dates(rng, df["birth_date"].to_numpy(), rates, REF_DATE)
    df["sex"], df["sex_kind"] = cr.corrupt_sex(rng, df["sex"].to_numpy(), rates)
    df["address"], df["rt"], df["rw"] = cr.corrupt_addresses(
        rng, df["address"].to_numpy(), df["rt"].to_numpy(), df["rw"].to_numpy(), rates
    )
    # the KK column is dirty too, but less so
    idx = cr.choose(rng, len(df), rates.nik_missing)
    kk = df["kk"].to_numpy().copy()
    kk[idx] = ""
    df["kk"] = _stale_cards(rng.spawn(1)[0], kk, rates.kk_stale)
    return df


def _stale_cards(rng: np.random.Generator, kk: np.ndarray, rate: float) -> np.ndarray:
    """A card the person has left (the parents' before a marriage, the old one before a move): a
    number of the same district issued years earlier, which no register holds any more. Drawn
    from a stream of its own (`rng` is spawned), so that the rest of the sample is as before."""
    idx = cr.choose(rng, len(kk), rate, eligible=np.array([len(x) == 16 for x in kk], dtype=bool))
    day, month, year = rng.integers(1, 29, len(idx)), rng.integers(1, 13, len(idx)), rng.integers(0, 16, len(idx))
    serial = rng.integers(1, 10_000, len(idx))
    out = kk.copy()
    out[idx] = [x[:6] + f"{d:02d}{m:02d}{y:02d}{s:04d}" for x, d, m, y, s in zip(kk[idx], day, month, year, serial)]
    return out


def _vary(rng: np.random.Generator, pop: Population, dup: pd.DataFrame, rates: CorruptionRates,
          accent: bool) -> pd.DataFrame:
    """Second rows of the same person written differently (name, NIK, date, address)."""
    persons = dup["person"].to_numpy()
    p = pop.people
    dup["name"] = cr.corrupt_names(
        rng, dup["name"].to_numpy(), p["female"].to_numpy()[persons], p["father_name"].to_numpy()[persons],
        p["alt_name"].to_numpy()[persons], rates, accent=accent, scale=6.0,
    )
    n = len(dup)
    nik = dup["nik"].to_numpy().copy()
    kind = dup["nik_kind"].to_numpy().copy()
    idx = cr.choose(rng, n, 0.15)
    nik[idx], kind[idx] = "", "missing"
    idx = cr.choose(rng, n, 0.1, eligible=np.array([len(x) == 16 for x in nik], dtype=bool))
    pos, d = rng.integers(0, 16, len(idx)), rng.integers(1, 10, len(idx))
    nik[idx] = [x[:q] + str((int(x[q]) + e) % 10) + x[q + 1 :] for x, q, e in zip(nik[idx], pos, d)]
    kind[idx] = "typo"
    dup["nik"], dup["nik_kind"] = nik, kind
    bd = dup["birth_date"].to_numpy().copy()
    bk = dup["bd_kind"].to_numpy().copy()
    idx = cr.choose(rng, n, 0.1)
    bd[idx], bk[idx] = np.datetime64("NaT"), "missing"
    dup["birth_date"], dup["bd_kind"] = bd, bk
    dup["address"], dup["rt"], dup["rw"] = cr.corrupt_addresses(
        rng, dup["address"].to_numpy(), dup["rt"].to_numpy(), dup["rw"].to_numpy(),
        rates.model_copy(update={"address_variant": min(1.0, rates.address_variant * 2)}),
    )
    return dup


def build_aid_extracts(rng: np.random.Generator, pop: Population, plans: list[ListPlan],
                       rates: CorruptionRates) -> list[Extract]:
    frames = {p.name: _base_rows(pop, p.persons, p.program) for p in plans}
    by_name = {p.name: p for p in plans}

    # ---- one person on several regencies' lists ----
    regional = [p for p in plans if p.regency_code is not None]
    listed = np.unique(np.concatenate([p.persons for p in plans]))
    k = max(rates.min_planted, rng.binomial(len(listed), rates.multi_region)) if rates.multi_region > 0 else 0
    movers = np.sort(rng.choice(listed, size=min(k, len(listed)), replace=False))
    home = pop.people["regency_code"].to_numpy()[movers]
    targets = []
    for h in home:
        opts = [p.name for p in regional if p.regency_code != h]
        targets.append(opts[rng.integers(0, len(opts))] if opts else None)
    for name in sorted({t for t in targets if t}):
        who = movers[np.array([t == name for t in targets])]
        extra = _base_rows(pop, who, np.full(len(who), "", dtype=object))
        places = _new_places(rng, pop, np.full(len(who), by_name[name].regency_code))
        for c in places.columns:
            extra[c] = places[c].to_numpy()
        extra["moved"] = True
        frames[name] = pd.concat([frames[name], extra], ignore_index=True)

    extracts = []
    for plan in plans:
        df = frames[plan.name]
        accent = plan.fmt == "latin1_csv"
        df = corrupt_rows(rng, pop, df, rates, accent=accent)
        # ---- duplicates inside one list ----
        idx = cr.choose(rng, len(df), rates.duplicate_in_source, rates.min_planted)
        dup = df.iloc[idx].copy()
        dup["duplicate"] = True
        varied = rng.random(len(dup)) < rates.duplicate_variation
        dup = pd.concat([dup[~varied], _vary(rng, pop, dup[varied].copy(), rates, accent)]).sort_index()
        if plan.fmt == "dtks_xlsx":  # a second programme is a common reason for a second row
            dup["program"] = np.where(rng.random(len(dup)) < 0.3, np.where(dup["program"] == "PKH", "BPNT", "PKH"),
                                      dup["program"])
        df = pd.concat([df, dup], ignore_index=True)
        # ---- file order: by place, then at random (BPNT cards: at random) ----
        key = rng.random(len(df))
        if plan.fmt == "bpnt_csv":
            df = df.iloc[np.argsort(key, kind="stable")]
        else:
            df = df.assign(_k=key).sort_values(["district_code", "village_code", "_k"], kind="stable").drop(
                columns="_k"
            )
        df = df.reset_index(drop=True)
        df = add_garbage(rng, df, plan.fmt, rates)
        # which NIK/KK cells a regional workbook stores as numbers (Excel keeps 15 digits)
        share = 0.0
        if plan.fmt == "bnba_xlsx":
            share = rates.nik_numeric_cells if plan.options.get("numeric_nik") else 0.03
        digit = df["nik"].str.fullmatch(r"\d+").fillna(False).to_numpy()
        df["nik_numeric"] = digit & (rng.random(len(df)) < share)
        id_column = None
        if plan.fmt == "dtks_xlsx":
            id_column = "IDDTKS"
            base = int(df["regency_code"].replace("", np.nan).dropna().iloc[0]) * 10**9 if len(df) else 10**12
            df["record_id"] = (base + np.cumsum(rng.integers(1, 60, len(df)))).astype(str)
        elif plan.fmt == "bpnt_csv":
            id_column = "NOMOR_KARTU"
            ids = 6013_0100_0000_0000 + np.cumsum(rng.integers(1, 5000, len(df)))
            df["record_id"] = rng.permutation(ids).astype(str)
        else:
            df["record_id"] = (np.arange(len(df)) + 1).astype(str)
        extracts.append(
            Extract(plan.name, "aid_list", plan.fmt, _filename(plan), df, id_column, plan.regency_code,
                    dict(plan.options))
        )
    return extracts


def _filename(plan: ListPlan) -> str:
    return {
        "dtks_xlsx": "kemensos_dtks.xlsx",
        "bpnt_csv": "kemensos_bpnt.csv",
        "bnba_xlsx": f"{plan.name}.xlsx",
        "latin1_csv": f"{plan.name}.csv",
    }[plan.fmt]


# ------------------------------------------------------------------------------ civil registry


def build_civil_registry(pop: Population) -> Extract:
    p = pop.people
    keep = np.flatnonzero(p["in_civil_registry"].to_numpy())
    sel = p.iloc[keep]
    df = pd.DataFrame({"person": keep.astype(np.int64), "garbage": ""})  # the writer renders people's values
    df["record_id"] = (np.arange(len(df)) + 1).astype(str)
    df["nik"] = sel["nik"].to_numpy()
    df["nik_numeric"] = False
    return Extract("dukcapil", "civil_registry", "dukcapil_csv", "dukcapil.csv", df)
