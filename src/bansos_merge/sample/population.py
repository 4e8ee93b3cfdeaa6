"""The true synthetic population: households of people in real Kemendagri villages.

Everything is vectorised over people (numpy/pandas); loops run over regencies, villages,
traditions or child positions only. The result is deterministic for a given generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..regions import load_regions
from . import names as nm
from .draw import date_parts, digits, make_dates, weighted_sample
from .places import pick_places, regency_history_names, town_name
from .rates import CorruptionRates

# The "as of" date of the synthetic extracts (fixed, so output does not depend on today).
REF_DATE = np.datetime64("2025-10-01", "D")
EASTERN_PROVINCES = ("53", "71", "81", "82", "91", "92", "93", "94", "95", "96", "97")

HOUSEHOLD_SIZES = np.arange(1, 8)
HOUSEHOLD_SIZE_P = np.array([0.09, 0.17, 0.22, 0.23, 0.15, 0.09, 0.05])

STREETS = nm._a(
    "MERDEKA|SUDIRMAN|DIPONEGORO|MAWAR|MELATI|KENANGA|PAHLAWAN|KARTINI|AHMAD YANI|GATOT SUBROTO|"
    "IMAM BONJOL|CEMPAKA|ANGGREK|FLAMBOYAN|MANGGA|RAYA|PEMUDA|VETERAN|SISINGAMANGARAJA|HASANUDDIN|"
    "SILIWANGI|GAJAH MADA|HAYAM WURUK|CENDANA|BERINGIN|DAHLIA|SETIA BUDI|KUMBANG|NANGKA|DURIAN|"
    "PERINTIS KEMERDEKAAN|SUKARNO HATTA|TERATAI|BAKTI|KAMBOJA|SERUNI|PELITA|MASJID|PASAR|STASIUN"
)
PLACES = nm._a(
    "KRAJAN|SUKAMAJU|KARANGANYAR|SUKAMULYA|SIDOMULYO|MEKARSARI|SUKASARI|CIBEUREUM|TEGALSARI|"
    "KEBONSARI|SUMBERSARI|MARGAHAYU|CIKADU|SINDANGSARI|NGEMPLAK|PAGERSARI|BABAKAN|TANJUNGSARI|"
    "WONOREJO|SIDOREJO|KALIWUNGU|GUNUNGSARI|JATIMULYO|BOJONG|PASIRJAYA|SUKADAMAI|TUNAS BARU|"
    "MEKAR JAYA|SIMPANG TIGA|LUBUK BARU"
)
ROMAN = nm._a("I|II|III|IV|V|VI|VII|VIII|IX|X|XI|XII|XIII|XIV|XV|XX|XXI|XXV")
BIG_TOWNS = nm._a(
    "JAKARTA|SURABAYA|BANDUNG|MEDAN|SEMARANG|MAKASSAR|PALEMBANG|YOGYAKARTA|SURAKARTA|MALANG|BOGOR|"
    "DENPASAR|PADANG|PEKANBARU|PONTIANAK|BANJARMASIN|BALIKPAPAN|MANADO|KUPANG|AMBON|JAYAPURA|CIREBON|"
    "TASIKMALAYA|KEDIRI|JEMBER"
)
RETIRED_TOWNS = nm._a("JAYAPURA|MERAUKE|SORONG|NABIRE|WAMENA|TIMIKA|MANOKWARI|BIAK")
MARITAL_ALONE = nm._a("BELUM KAWIN|CERAI MATI|CERAI HIDUP")


@dataclass
class Population:
    people: pd.DataFrame  # one row per person, RangeIndex = person number
    households: pd.DataFrame  # one row per household, RangeIndex = household number
    villages: pd.DataFrame  # the sampled villages with their district/regency/province
    regencies: pd.DataFrame  # the sampled regencies: code, name, province


# ------------------------------------------------------------------------------ households


def _households(rng: np.random.Generator, villages: pd.DataFrame, people: int) -> pd.DataFrame:
    n_draw = int(people / 2.5) + 16
    sizes = rng.choice(HOUSEHOLD_SIZES, size=n_draw, p=HOUSEHOLD_SIZE_P)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    keep = start < people
    sizes, start = sizes[keep], start[keep]
    sizes[-1] = people - start[-1]
    bounds = np.cumsum(villages["target"].to_numpy())
    v_idx = np.minimum(np.searchsorted(bounds, start, side="right"), len(villages) - 1)
    hh = pd.DataFrame({"size": sizes, "start": start, "village": v_idx})
    hh["has_spouse"] = (sizes >= 2) & (rng.random(len(hh)) < 0.85)
    hh["head_female"] = ~hh["has_spouse"] & (rng.random(len(hh)) < 0.5)
    return hh


def build_population(rng: np.random.Generator, people: int, rates: CorruptionRates) -> Population:
    if people < 10:
        raise ValueError("people must be at least 10")
    villages, regencies = pick_places(rng, people, rates)
    hh = _households(rng, villages, people)
    H = len(hh)
    hh_of = np.repeat(np.arange(H), hh["size"].to_numpy())
    pos = np.arange(people) - hh["start"].to_numpy()[hh_of]
    has_sp = hh["has_spouse"].to_numpy()
    head_f = hh["head_female"].to_numpy()
    is_head = pos == 0
    is_spouse = (pos == 1) & has_sp[hh_of]
    is_child = ~is_head & ~is_spouse
    child_idx = np.where(is_child, pos - 1 - has_sp[hh_of], -1)
    female = np.where(is_head, head_f[hh_of], np.where(is_spouse, True, rng.random(people) < 0.49))

    # ---- ages (in days before REF_DATE) ----
    head_pos = hh["start"].to_numpy()
    r = rng.random(H)
    head_age = np.where(
        has_sp,
        np.clip(rng.normal(44, 12, H), 20, 85),
        np.where(hh["size"].to_numpy() == 1,
                 np.where(r < 0.4, rng.uniform(19, 35, H), np.clip(rng.normal(66, 9, H), 45, 95)),
                 np.clip(rng.normal(50, 12, H), 24, 90)),
    )
    spouse_age = np.clip(head_age - rng.normal(3, 4, H), 17, head_age + 10)
    # parents of many children are not twenty
    n_children = hh["size"].to_numpy() - 1 - has_sp
    parent_age = np.where(has_sp, spouse_age, head_age)
    lift = np.clip(19 + 2.5 * n_children - parent_age, 0, None) * (n_children > 0)
    head_age, spouse_age, parent_age = head_age + lift, spouse_age + lift, parent_age + lift
    age_days = np.zeros(people, dtype=np.int64)
    age_days[head_pos] = (head_age * 365.25).astype(np.int64)
    sp_pos = head_pos[has_sp] + 1
    age_days[sp_pos] = (spouse_age[has_sp] * 365.25).astype(np.int64)
    twin = np.zeros(people, dtype=bool)
    for k in range(int(child_idx.max()) + 1):
        sel = np.flatnonzero(child_idx == k)
        h = hh_of[sel]
        if k == 0:
            hi = np.clip(parent_age[h] - 19, 0.3, 32)
            lo = np.minimum(hi, 2.5 * (n_children[h] - 1) + 0.2)
            age_days[sel] = (rng.uniform(lo, hi) * 365.25).astype(np.int64)
        else:
            p_age = age_days[sel - 1]
            gap = (rng.uniform(1.2, 4.0, len(sel)) * 365.25).astype(np.int64)
            a = p_age - gap
            a = np.where(a < 0, (p_age * rng.uniform(0.1, 0.9, len(sel))).astype(np.int64), a)
            is_twin = rng.random(len(sel)) < rates.twins
            age_days[sel] = np.where(is_twin, p_age, a)
            twin[sel] = is_twin
    birth = REF_DATE - age_days
    age_years = age_days / 365.25

    # ---- default birth dates (unknown date registered as 1 Jul / 31 Dec / the 15th) ----
    by, bm, bd = date_parts(birth)
    n_def = rng.binomial(people, rates.default_birth_date)
    dflt = weighted_sample(rng, np.where(age_years > 40, 3.0, 1.0), n_def)
    kind = rng.random(len(dflt))
    bm_d = np.where(kind < 0.2, bm[dflt], np.where(kind < 0.6, 7, 12))
    bd_d = np.where(kind < 0.2, 15, np.where(kind < 0.6, 1, 31))
    birth[dflt] = make_dates(by[dflt], bm_d, bd_d)
    birth = np.minimum(birth, REF_DATE - 1)
    # children cannot be "older" than now; twins keep the same date
    twin_idx = np.flatnonzero(twin)
    birth[twin_idx] = birth[twin_idx - 1]

    # ---- places ----
    v_of = hh["village"].to_numpy()[hh_of]
    vcode = villages["village_code"].to_numpy()[v_of]
    dcode = villages["district_code"].to_numpy()[v_of]
    rcode = villages["regency_code"].to_numpy()[v_of]
    pcode = villages["province_code"].to_numpy()[v_of]

    # ---- traditions and names ----
    tradition = np.empty(H, dtype=object)
    hh_prov = villages["province_code"].to_numpy()[hh["village"].to_numpy()]
    for prov in np.unique(hh_prov):
        sel = np.flatnonzero(hh_prov == prov)
        tnames, tp = nm.tradition_mix(prov)
        tradition[sel] = np.array(tnames, dtype=object)[rng.choice(len(tnames), size=len(sel), p=tp)]
    trad_p = tradition[hh_of]
    eastern_hh = np.isin(hh_prov, EASTERN_PROVINCES)
    hh_family = np.full(H, "", dtype=object)
    for t in ("batak", "chinese", "christian"):
        sel = np.flatnonzero(tradition == t)
        hh_family[sel] = nm.family_names(rng, t, len(sel), eastern_hh[sel])
    hh_clan = np.where(tradition == "chinese", nm.chinese_clan(rng, H), "").astype(object)
    # a person's inherited family name: the household's (father's) for a male head and children
    own_family = np.full(people, "", dtype=object)
    for t in ("batak", "chinese", "christian"):
        sel = np.flatnonzero(trad_p == t)
        own_family[sel] = nm.family_names(rng, t, len(sel), eastern_hh[hh_of[sel]])
    family = np.where(is_child | (is_head & ~female), hh_family[hh_of], own_family)
    birth_order = np.where(is_child, child_idx + 1, rng.integers(1, 5, people))
    birth_year = by.copy()
    name = np.empty(people, dtype=object)
    mother = np.empty(people, dtype=object)
    for t in nm.TRADITIONS:
        sel = np.flatnonzero(trad_p == t)
        if len(sel) == 0:
            continue
        name[sel] = nm.given_names(rng, t, female[sel], birth_year[sel], birth_order[sel], family[sel])
        mother[sel] = nm.given_names(
            rng, t, np.ones(len(sel), dtype=bool), birth_year[sel] - 25, rng.integers(1, 5, len(sel)),
            np.full(len(sel), "", dtype=object),
        )
    head_name = name[head_pos]
    father_known = is_child & ~head_f[hh_of]
    father_name = np.where(father_known, head_name[hh_of], nm.zipf_pick(rng, nm.FATHER_POOL, people))
    # children sharing a name part with the father
    share = (
        father_known
        & np.isin(trad_p, ["javanese", "muslim", "sundanese", "minang"])
        & (rng.random(people) < rates.child_shares_father_name)
    )
    idx = np.flatnonzero(share)
    child_first = pd.Series(name[idx], dtype=object).str.split(" ").str[0].to_numpy(dtype=object)
    name[idx] = child_first + " " + nm.last_token(father_name[idx])
    # BIN / BINTI + father's name
    boost = pd.Series(pcode).map(nm.BIN_BINTI_BOOST).fillna(1.0).to_numpy()
    binb = np.isin(trad_p, ["muslim", "minang"]) & (rng.random(people) < rates.bin_binti * boost) & ~share
    idx = np.flatnonzero(binb)
    name[idx] = name[idx] + np.where(female[idx], " BINTI ", " BIN ") + nm.first_token(father_name[idx])
    # twins often share a first name part (MUHAMMAD HASAN / MUHAMMAD HUSEIN, SITI AMINAH / SITI AISYAH)
    same_sex = twin & (female == np.roll(female, 1))
    tw = np.flatnonzero(same_sex & ~np.isin(trad_p, ["balinese", "batak"]) & (rng.random(people) < 0.6))
    own = pd.Series(name[tw], dtype=object).str.split(" ", n=1)
    sib_first = pd.Series(name[tw - 1], dtype=object).str.split(" ", n=1).str[0]
    multi = own.str.len().to_numpy() == 2
    name[tw[multi]] = (sib_first[multi] + " " + own[multi].str[1]).to_numpy(dtype=object)
    # mother's name: the household's mother for children
    mom_of_hh = np.where(has_sp, name[np.minimum(head_pos + 1, people - 1)], np.where(head_f, head_name, ""))
    mom_child = mom_of_hh[hh_of]
    mother = np.where(is_child & (mom_child != ""), mom_child, mother)
    alt_name = np.full(people, "", dtype=object)
    chin = np.flatnonzero((trad_p == "chinese") & (rng.random(people) < 0.4))
    alt_name[chin] = nm.chinese_alt_names(rng, hh_clan[hh_of[chin]])

    # ---- religion, relation, marital status ----
    religion = np.empty(H, dtype=object)
    for t in nm.TRADITIONS:
        sel = np.flatnonzero(tradition == t)
        opts, p = nm.RELIGION[t]
        religion[sel] = np.array(opts, dtype=object)[rng.choice(len(opts), size=len(sel), p=p)]
    relation = np.where(is_head, "KEPALA KELUARGA", np.where(is_spouse, "ISTRI", "ANAK")).astype(object)
    alone = MARITAL_ALONE[rng.choice(len(MARITAL_ALONE), size=H, p=[0.3, 0.5, 0.2])]
    alone = np.where(age_days[head_pos] < 30 * 365, "BELUM KAWIN", alone)
    marital = np.where(
        is_child, "BELUM KAWIN", np.where(is_spouse | has_sp[hh_of], "KAWIN", alone[hh_of])
    ).astype(object)

    # ---- NIK: district of first registration + DDMMYY (+40 for women) + serial ----
    hist = load_regions().district_status
    retired = hist.index[hist == "retired"].to_numpy()
    reg_dist = load_regions().regions
    reg_dist = reg_dist[(reg_dist["level"] == "district") & reg_dist["parent"].isin(regencies["regency_code"])]
    nik_dist = dcode.copy()
    elsewhere = rng.random(people) < rates.registered_elsewhere * np.where(is_child, 0.3, 1.0)
    nik_dist[elsewhere] = reg_dist["code"].to_numpy()[rng.integers(0, len(reg_dist), int(elsewhere.sum()))]
    ret = rng.random(people) < rates.retired_district
    nik_dist[ret] = retired[rng.integers(0, len(retired), int(ret.sum()))]
    nik_birth = birth.copy()
    # a later correction of the recorded birth date does not change the NIK
    n_cor = rng.binomial(people, rates.birth_date_corrected)
    cor = rng.choice(people, size=n_cor, replace=False)
    shift = rng.integers(20, 1500, n_cor) * np.where(rng.random(n_cor) < 0.5, -1, 1)
    birth[cor] = np.minimum(birth[cor] + shift, REF_DATE - 1)
    ny, nmo, nd = date_parts(nik_birth)
    nik12 = nik_dist.astype(np.int64) * 1_000_000 + (nd + 40 * female) * 10_000 + nmo * 100 + ny % 100
    nik = _serials(rng, nik12)

    # ---- KK: issuing district + issue date + serial (never equal to a NIK) ----
    hh_dist = villages["district_code"].to_numpy()[hh["village"].to_numpy()]
    start_issue = np.datetime64("2008-01-01", "D")
    issue = start_issue + rng.integers(0, (REF_DATE - start_issue).astype(np.int64), H)
    iy, im, idd = date_parts(issue)
    kk12 = hh_dist.astype(np.int64) * 1_000_000 + idd * 10_000 + im * 100 + iy % 100
    kk = _serials(rng, kk12, avoid=nik)

    # ---- birth place ----
    all_reg = load_regions().regions
    all_reg = all_reg[all_reg["level"] == "regency"].set_index("code")["name"]
    hist_names = regency_history_names()
    bp_reg = pd.Series(nik_dist.astype(str)).str[:4]
    bp = town_name(bp_reg.map(all_reg).fillna(bp_reg.map(hist_names)).fillna("")).to_numpy(dtype=object)
    bp = np.where(ret, RETIRED_TOWNS[rng.integers(0, len(RETIRED_TOWNS), people)], bp)
    migrant = rng.random(people) < np.where(is_child, 0.03, 0.15)
    bp = np.where(migrant | (bp == ""), nm.zipf_pick(rng, BIG_TOWNS, people, 0.8), bp)

    # ---- addresses (household level) ----
    is_kota = villages["is_kota"].to_numpy()[hh["village"].to_numpy()]
    form = rng.random(H)
    street = nm.zipf_pick(rng, STREETS, H, 0.7)
    place = nm.zipf_pick(rng, PLACES, H, 0.7)
    no = digits(rng.integers(1, 120, H), 1)
    jl = "JL. " + street + " NO. " + no
    gg = "JL. " + street + " GG. " + ROMAN[rng.integers(0, len(ROMAN), H)] + " NO. " + no
    dsn = "DSN. " + place
    kp = "KP. " + place
    kp_weight = np.isin(hh_prov, ["32", "36"])
    address = np.where(
        is_kota,
        np.where(form < 0.6, jl, np.where(form < 0.9, gg, kp)),
        np.where(form < 0.35, jl, np.where(form < 0.45, gg, np.where(kp_weight, kp, dsn))),
    ).astype(object)
    n_rw = rng.integers(3, 13, len(villages))[hh["village"].to_numpy()]
    rw = digits(np.floor(rng.random(H) * n_rw).astype(int) + 1, 3)
    rt = digits(rng.integers(1, 9, H), 3)

    # ---- phone ----
    has_phone = (age_years >= 17) & (rng.random(people) < rates.phone)
    phone = np.where(
        has_phone,
        "08" + nm._a("1|2|3|5|7|8|9")[rng.integers(0, 7, people)] + digits(rng.integers(0, 10**9, people), 9),
        "",
    ).astype(object)

    # ---- alive / deceased (age-weighted) ----
    n_dead = rng.binomial(people, rates.deceased)
    dead = weighted_sample(rng, np.exp((age_years - 60) / 12), n_dead)
    alive = np.ones(people, dtype=bool)
    alive[dead] = False
    death = np.full(people, np.datetime64("NaT"), dtype="datetime64[D]")
    lo = np.maximum(birth[dead] + 1, REF_DATE - 5 * 365)
    span = (REF_DATE - 1 - lo).astype(np.int64)
    death[dead] = lo + (rng.random(len(dead)) * np.maximum(span, 0)).astype(np.int64)

    # ---- presence in the civil registry ----
    absent_hh = rng.random(H) < rates.absent_household
    absent = absent_hh[hh_of] | (
        rng.random(people) < rates.absent_person * np.where(age_years < 5, 4.0, 0.5)
    )
    absent &= alive

    people_df = pd.DataFrame(
        {
            "person_id": "P" + pd.Series(np.arange(people)).astype(str).str.zfill(8),
            "household": hh_of,
            "pos": pos,
            "relation": relation,
            "nik": nik,
            "kk": kk[hh_of],
            "name": name,
            "alt_name": alt_name,
            "sex": np.where(female, "P", "L"),
            "female": female,
            "birth_date": birth,
            "nik_birth_date": nik_birth,
            "birth_place": bp,
            "mother_name": mother,
            "father_name": father_name,
            "tradition": trad_p,
            "religion": religion[hh_of],
            "marital": marital,
            "village_code": vcode,
            "district_code": dcode,
            "regency_code": rcode,
            "province_code": pcode,
            "address": address[hh_of],
            "rt": rt[hh_of],
            "rw": rw[hh_of],
            "phone": phone,
            "alive": alive,
            "death_date": death,
            "in_civil_registry": ~absent,
            "nik_district_status": np.where(ret, "retired", np.where(elsewhere, "elsewhere", "current")),
            "twin": twin,
        }
    )
    hh_df = pd.DataFrame(
        {
            "village": hh["village"].to_numpy(),
            "size": hh["size"].to_numpy(),
            "head": head_pos,
            "has_spouse": has_sp,
            "kk": kk,
            "tradition": tradition,
            "address": address,
            "rt": rt,
            "rw": rw,
        }
    )
    return Population(people=people_df, households=hh_df, villages=villages, regencies=regencies)


def _serials(rng: np.random.Generator, prefix12: np.ndarray, avoid: np.ndarray | None = None) -> np.ndarray:
    """16-digit strings prefix12 + a serial (from 0001) unique within each prefix."""
    n = len(prefix12)
    order = rng.permutation(n)
    s = pd.Series(prefix12[order])
    serial = np.empty(n, dtype=np.int64)
    start = rng.integers(1, 4, n)  # a per-group random start (others born that day are not sampled)
    g = s.groupby(s.to_numpy(), sort=False)
    serial[order] = g.cumcount().to_numpy() + start[order][g.ngroup().to_numpy()]
    value = prefix12 * 10_000 + serial
    if avoid is not None:
        taken = pd.Index(pd.Series(avoid).astype(np.int64))
        clash = taken.get_indexer(value) >= 0
        while clash.any():  # rare: move the clashing card to a high serial
            value[clash] = prefix12[clash] * 10_000 + 5000 + rng.integers(0, 4999, int(clash.sum()))
            clash = (taken.get_indexer(value) >= 0) | pd.Series(value).duplicated(keep="first").to_numpy()
    return pd.Series(value).astype(str).to_numpy(dtype=object)
