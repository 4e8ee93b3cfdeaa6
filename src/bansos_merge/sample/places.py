"""Where the synthetic people live and were born: sampled regencies and villages, town names."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..regions import data_file, load_regions, population_by_regency
from .draw import weighted_sample
from .rates import CorruptionRates


def pick_places(rng: np.random.Generator, people: int, rates: CorruptionRates) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sampled regencies and villages (with a target number of people per village)."""
    regions = load_regions().regions
    pop = population_by_regency()
    n_reg = int(min(len(pop), max(2, round(people / rates.people_per_regency))))
    chosen = pop.iloc[weighted_sample(rng, pop["total"].to_numpy(), n_reg)].reset_index(drop=True)
    # Big regencies get more people, but not proportionally (a sample of a handful of offices).
    share = np.sqrt(chosen["total"].to_numpy(dtype=float))
    alloc = np.floor(people * share / share.sum()).astype(int)
    alloc[: people - alloc.sum()] += 1

    dist = regions[regions["level"] == "district"]
    vill = regions[regions["level"] == "village"]
    prov_name = regions[regions["level"] == "province"].set_index("code")["name"]
    rows = []
    for reg_code, reg_name, n_people in zip(chosen["code"], chosen["name"], alloc):
        n_vill = max(1, int(round(n_people / 2000)))
        d_codes = dist.loc[dist["parent"] == reg_code, "code"].to_numpy()
        n_dist = min(len(d_codes), max(1, int(np.ceil(n_vill / 4))))
        d_pick = np.sort(rng.choice(d_codes, size=n_dist, replace=False))
        cand = vill[vill["parent"].isin(d_pick)]
        v_pick = cand.iloc[np.sort(rng.choice(len(cand), size=min(n_vill, len(cand)), replace=False))]
        target = rng.uniform(1000, 3000, size=len(v_pick))
        target = np.floor(n_people * target / target.sum()).astype(int)
        target[: n_people - target.sum()] += 1
        for (code, name, parent), t in zip(v_pick[["code", "name", "parent"]].itertuples(index=False), target):
            rows.append((code, name.upper(), parent, reg_code, reg_name, int(t)))
    villages = pd.DataFrame(
        rows, columns=["village_code", "village_name", "district_code", "regency_code", "regency_name", "target"]
    )
    dname = dist.set_index("code")["name"].str.upper()
    villages["district_name"] = villages["district_code"].map(dname)
    villages["province_code"] = villages["regency_code"].str[:2]
    villages["province_name"] = villages["province_code"].map(prov_name).str.upper()
    villages["is_kota"] = villages["regency_name"].str.startswith("Kota")
    villages = villages.sort_values("village_code", kind="stable").reset_index(drop=True)
    regencies = chosen[["code", "name"]].rename(columns={"code": "regency_code", "name": "regency_name"})
    regencies["province_code"] = regencies["regency_code"].str[:2]
    regencies["province_name"] = regencies["province_code"].map(prov_name).str.upper()
    regencies["people"] = alloc
    return villages, regencies.sort_values("regency_code").reset_index(drop=True)


def town_name(regency_names: pd.Series) -> pd.Series:
    """'Kabupaten Bogor' -> 'BOGOR', 'Kota Bandung' -> 'BANDUNG' (a birth place)."""
    return regency_names.str.upper().str.replace(
        r"^(?:KABUPATEN|KOTA)(?: ADMINISTRASI| ADM\.)?\s+", "", regex=True
    )


def regency_history_names() -> pd.Series:
    """Regency code (no dots) -> its latest name, for every regency code since 2016."""
    hist = pd.read_csv(data_file("kemendagri_codes_history.csv"), dtype=str, keep_default_na=False)
    reg = hist[hist["level"] == "regency"]
    return pd.Series(reg["name_latest"].to_numpy(), index=reg["code"].str.replace(".", "", regex=False))
