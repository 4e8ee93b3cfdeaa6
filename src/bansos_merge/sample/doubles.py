"""The civil registry's own duplicates ("data ganda"): people registered twice under two NIKs.

Dukcapil's clean-up finds people registered again after a move, without the old entry being
closed, and births registered twice. The second entry is a well-formed NIK of the district where
it was made, with the same birth date (and day + 40 for women) and another serial; a new family
card, and for a move a new address. Name, birth date, sex, birth place and mother's name are the
person's. The rows are appended to the registry extract with their own NIK, card and address
(writers.REGISTRY_OVERRIDES; the writer renders the rest from the person), from their own random
stream.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .extracts import Extract
from .population import Population
from .rates import CorruptionRates


def add_double_registrations(rng: np.random.Generator, pop: Population, registry: Extract, rates: CorruptionRates) -> Extract:
    """`registry` with a second row for some of its people (about `rates.registered_twice`)."""
    p = pop.people
    rows = registry.rows
    listed = rows["person"].to_numpy()
    adult = (p["birth_date"].to_numpy()[listed] < np.datetime64("2005-01-01")) & p["alive"].to_numpy()[listed]
    k = rng.binomial(len(listed), rates.registered_twice)
    if k == 0 or not adult.any():
        return registry
    chosen = np.sort(rng.choice(listed[adult], size=min(k, int(adult.sum())), replace=False))
    sel = p.iloc[chosen]
    taken = set(p["nik"]) | set(p["kk"])
    # The new entry is made where the person lives now: its district, the NIK's date part, a new serial.
    nik12 = sel["district_code"].str.slice(0, 6) + sel["nik"].str.slice(6, 12)
    nik = _fresh(rng, nik12.to_numpy(), taken)
    issued = np.datetime64("2015-01-01") + rng.integers(0, 3000, len(sel)).astype("timedelta64[D]")
    kk12 = sel["district_code"].str.slice(0, 6) + pd.Series(issued).dt.strftime("%d%m%y").to_numpy()
    kk = _fresh(rng, kk12.to_numpy(), taken | set(nik))
    moved = rng.random(len(sel)) < 0.7
    house = pd.Series(rng.integers(1, 150, len(sel))).astype(str).to_numpy()
    extra = pd.DataFrame(
        {
            "person": chosen.astype(np.int64),
            "garbage": "",
            "nik": nik,
            "nik_numeric": False,
            "kk": kk,
            "address": np.where(moved, "JL. BARU NO. " + house, sel["address"].to_numpy()),
            "rt": np.where(moved, pd.Series(rng.integers(1, 9, len(sel))).map("{:03d}".format), sel["rt"].to_numpy()),
            "rw": np.where(moved, pd.Series(rng.integers(1, 9, len(sel))).map("{:03d}".format), sel["rw"].to_numpy()),
        }
    )
    extra["record_id"] = (np.arange(len(extra)) + len(rows) + 1).astype(str)
    return replace(registry, rows=pd.concat([rows, extra], ignore_index=True))


def _fresh(rng: np.random.Generator, prefix12: np.ndarray, taken: set) -> np.ndarray:
    """A 16-digit number per 12-digit prefix, with a serial that no other NIK or KK uses."""
    out = []
    for prefix in prefix12:
        while True:
            value = f"{prefix}{int(rng.integers(1, 200)):04d}"
            if value not in taken:
                taken.add(value)
                out.append(value)
                break
    return np.array(out, dtype=object)
