"""Field-level corruptions of aid-list rows, and the NIK check the truth is computed with.

Every function takes the generator, the values of the rows to corrupt and the rates, and
returns new values plus a per-row label of what was done. Randomness is drawn vectorised;
string edits run only over the (few) selected rows.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..regions import load_regions
from .draw import date_parts
from .rates import CorruptionRates

MUHAMMAD_VARIANTS = np.array(
    ["M.", "MOH.", "MOCH.", "MUH.", "MUHAMAD", "MOCHAMAD", "MOCHAMMAD", "MHD.", "MOHD.", "MUHAMAD"], dtype=object
)
TITLES_BEFORE_M = np.array(["H.", "DRS.", "IR.", "DR."], dtype=object)
TITLES_BEFORE_F = np.array(["HJ.", "DRA.", "IR.", "DR."], dtype=object)
TITLES_AFTER = np.array(
    [", S.PD", " S.PD", ", S.E.", ", S.H.", " S.KOM", ", S.SOS", " S.AG", ", A.MD", " M.PD", ", S.T."], dtype=object
)
_OLD = re.compile(r"SY|NY|KH|J|C|Y|U")
_OLD_MAP = {"SY": "SJ", "NY": "NJ", "KH": "CH", "J": "DJ", "C": "TJ", "Y": "J", "U": "OE"}
_LETTERS = np.array(list("ABCDEFGHIJKLMNOPRSTUWY"), dtype=object)
DUMMY_NIKS = np.array(["2222222222222222"] * 6 + ["1111111111111111", "9999999999999999", "3333333333333333"])


def choose(
    rng: np.random.Generator,
    n: int,
    rate: float,
    minimum: int = 0,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """Sorted row indices: about rate*n of the eligible rows, at least `minimum` where possible."""
    pool = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    k = rng.binomial(n, min(rate, 1.0)) if n else 0
    k = int(min(len(pool), max(k, minimum if rate > 0 else 0)))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    return np.sort(rng.choice(pool, size=k, replace=False))


# ------------------------------------------------------------------------------ names


def _tokens_edit(names: np.ndarray, fn) -> np.ndarray:
    return np.array([fn(s) for s in names], dtype=object)


def old_spelling(names: np.ndarray, only_u: np.ndarray) -> np.ndarray:
    """SUPARMAN -> SOEPARMAN; JOKO CAHYONO -> DJOKO TJAHJONO (only U->OE where `only_u`)."""
    out = []
    for s, u in zip(names, only_u):
        out.append(s.replace("U", "OE") if u else _OLD.sub(lambda m: _OLD_MAP[m.group(0)], s))
    return np.array(out, dtype=object)


def _drop_part(s: str, r: float) -> str:
    t = s.split(" ")
    for b in ("BIN", "BINTI"):
        if b in t[1:]:
            return " ".join(t[: t.index(b)])
    if len(t) >= 3:
        i = 1 + int(r * (len(t) - 2))
        return " ".join(t[:i] + t[i + 1 :])
    if len(t) == 2:
        return t[0] if len(t[0]) > 2 else s
    return s


def _typo(s: str, op: int, r1: float, r2: float) -> str:
    letters = [i for i, c in enumerate(s) if c.isalpha()]
    if len(letters) < 3:
        return s
    i = letters[int(r1 * len(letters))]
    c = _LETTERS[int(r2 * len(_LETTERS))]
    if op == 0:  # substitution
        if c == s[i]:
            c = "A" if s[i] != "A" else "E"
        return s[:i] + c + s[i + 1 :]
    if op == 1:  # deletion
        return s[:i] + s[i + 1 :]
    if op == 2:  # insertion (often a doubled letter)
        return s[:i] + (s[i] if r2 < 0.5 else c) + s[i:]
    j = i + 1 if i + 1 < len(s) and s[i + 1].isalpha() and s[i + 1] != s[i] else None
    if j is None:
        return s[:i] + s[i + 1 :]
    return s[:i] + s[j] + s[i] + s[j + 1 :]


def _nickname(s: str) -> str:
    t = s.split(" ")
    if len(t) >= 2:
        return t[-1] if not t[-1].endswith(".") else t[0]
    return t[0][2:]  # SUPARMAN -> PARMAN


def _initials(s: str, r: float) -> str:
    """SITI AMINAH -> SITI A. or SITI A; ABDUL RAHMAN -> A. RAHMAN (the first name cut instead)."""
    t = s.split()
    if r < 0.3:
        return t[0][0] + ". " + " ".join(t[1:])
    dot = "." if r < 0.75 else ""
    return " ".join([t[0]] + [w[0] + dot for w in t[1:]])


def _accent(s: str, r: float) -> str:
    idx = [i for i, c in enumerate(s) if c in "EU"]
    if not idx:
        return s
    i = idx[int(r * len(idx))]
    return s[:i] + ("É" if s[i] == "E" else "Ü") + s[i + 1 :]


def corrupt_names(
    rng: np.random.Generator,
    names: np.ndarray,
    female: np.ndarray,
    father: np.ndarray,
    alt: np.ndarray,
    rates: CorruptionRates,
    accent: bool = False,
    scale: float = 1.0,
) -> np.ndarray:
    """The names as an aid list writes them. `scale` multiplies every rate (lighter re-corruption)."""
    out = np.asarray(names, dtype=object).copy()
    n = len(out)
    if n == 0:
        return out
    s = pd.Series(out, dtype=object)
    # MUHAMMAD written short
    has_m = s.str.contains(r"\bMUHAMMAD\b", regex=True).to_numpy()
    idx = choose(rng, int(has_m.sum()), rates.muhammad_variant * scale)
    idx = np.flatnonzero(has_m)[idx]
    var = MUHAMMAD_VARIANTS[rng.integers(0, len(MUHAMMAD_VARIANTS), len(idx))]
    out[idx] = [x.replace("MUHAMMAD", v, 1) for x, v in zip(out[idx], var)]
    # a name part left out
    idx = choose(rng, n, rates.drop_name_part * scale)
    out[idx] = [_drop_part(x, r) for x, r in zip(out[idx], rng.random(len(idx)))]
    # old spelling
    idx = choose(rng, n, rates.old_spelling * scale)
    out[idx] = old_spelling(out[idx], rng.random(len(idx)) < 0.5)
    # titles
    idx = choose(rng, n, rates.title * scale)
    before = rng.random(len(idx)) < 0.6
    pre = np.where(
        female[idx], TITLES_BEFORE_F[rng.integers(0, 4, len(idx))], TITLES_BEFORE_M[rng.integers(0, 4, len(idx))]
    )
    post = TITLES_AFTER[rng.integers(0, len(TITLES_AFTER), len(idx))]
    out[idx] = np.where(before, pre + " " + out[idx], out[idx] + post)
    # aliases A/B or A ALS B
    has_alias = np.array([bool(a) or " " in x or len(x) >= 6 for x, a in zip(out, alt)], dtype=bool)
    idx = choose(rng, n, rates.alias * scale, eligible=has_alias)
    sep = np.where(rng.random(len(idx)) < 0.7, "/", " ALS ")
    other = np.array([a if a else _nickname(x) for x, a in zip(out[idx], alt[idx])], dtype=object)
    out[idx] = out[idx] + sep + other
    # names cut to initials by a narrow column (SITI A., DEWI K, A. RAHMAN)
    idx = choose(rng, n, rates.cut_to_initials * scale, eligible=np.array([len(x.split()) > 1 for x in out], dtype=bool))
    out[idx] = [_initials(x, r) for x, r in zip(out[idx], rng.random(len(idx)))]
    # father's initial (MAWARDI.Z)
    idx = choose(rng, n, rates.father_initial * scale)
    init = np.array([f[:1] if f else "A" for f in father[idx]], dtype=object)
    out[idx] = out[idx] + np.where(rng.random(len(idx)) < 0.7, ".", " ") + init
    # one-letter typos
    idx = choose(rng, n, rates.name_typo * scale)
    ops, r1, r2 = rng.integers(0, 4, len(idx)), rng.random(len(idx)), rng.random(len(idx))
    out[idx] = [_typo(x, o, a, b) for x, o, a, b in zip(out[idx], ops, r1, r2)]
    if accent:
        idx = choose(rng, n, rates.accent * scale, rates.min_planted, eligible=pd.Series(out).str.contains("[EU]").to_numpy())
        out[idx] = [_accent(x, r) for x, r in zip(out[idx], rng.random(len(idx)))]
    # case noise
    idx = choose(rng, n, rates.case_noise * scale)
    low = rng.random(len(idx)) < 0.3
    out[idx] = [x.lower() if lo else x.title() for x, lo in zip(out[idx], low)]
    # spacing noise
    idx = choose(rng, n, rates.space_noise * scale)
    kind = rng.integers(0, 4, len(idx))
    out[idx] = [_spacing(x, k) for x, k in zip(out[idx], kind)]
    return out


def _spacing(s: str, k: int) -> str:
    if k == 0:
        return s.replace(" ", "  ", 1) if " " in s else s + " "
    if k == 1:
        return " " + s
    if k == 2:
        return s + "  "
    return s.replace(". ", ".", 1) if ". " in s else s.replace(" ", "  ")


# ------------------------------------------------------------------------------ NIK

NIK_KINDS = ("missing", "typo", "transposition", "truncated", "dummy", "zeros", "kk_pasted", "shared", "second")


def corrupt_niks(
    rng: np.random.Generator,
    nik: np.ndarray,
    kk: np.ndarray,
    donor: np.ndarray,
    second: np.ndarray,
    rates: CorruptionRates,
    scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(NIKs as written, label per row) — labels '' (unchanged) or one of NIK_KINDS.

    `donor`: another person's NIK to use for 'shared' ('' where none); `second`: the person's
    second valid-looking NIK for 'second'.
    """
    out = np.asarray(nik, dtype=object).copy()
    n = len(out)
    label = np.full(n, "", dtype=object)
    free = np.ones(n, dtype=bool)
    m = rates.min_planted if scale == 1.0 else 0

    def take(rate: float, minimum: int = 0, extra: np.ndarray | None = None) -> np.ndarray:
        elig = free if extra is None else free & extra
        idx = choose(rng, n, rate * scale, minimum, eligible=elig)
        free[idx] = False
        return idx

    idx = take(rates.nik_shared, m, extra=np.asarray(donor, dtype=object) != "")
    out[idx], label[idx] = donor[idx], "shared"
    idx = take(rates.nik_second, m)
    out[idx], label[idx] = second[idx], "second"
    idx = take(rates.nik_kk_pasted, m)
    out[idx], label[idx] = kk[idx], "kk_pasted"
    idx = take(rates.nik_dummy, m)
    out[idx], label[idx] = DUMMY_NIKS[rng.integers(0, len(DUMMY_NIKS), len(idx))], "dummy"
    idx = take(rates.nik_zeros)
    out[idx], label[idx] = "0000000000000000", "zeros"
    idx = take(rates.nik_missing, m)
    out[idx], label[idx] = "", "missing"
    idx = take(rates.nik_typo, m)
    pos, r = rng.integers(0, 16, len(idx)), rng.integers(1, 10, len(idx))
    out[idx] = [x[:p] + str((int(x[p]) + d) % 10) + x[p + 1 :] for x, p, d in zip(out[idx], pos, r)]
    label[idx] = "typo"
    idx = take(rates.nik_transposition)
    out[idx] = [_transpose(x, p) for x, p in zip(out[idx], rng.integers(0, 15, len(idx)))]
    label[idx] = "transposition"
    idx = take(rates.nik_truncated)
    pos, add = rng.integers(0, 16, len(idx)), rng.random(len(idx)) < 0.3
    out[idx] = [x[:p] + x[p] + x[p:] if a else x[:p] + x[p + 1 :] for x, p, a in zip(out[idx], pos, add)]
    label[idx] = "truncated"
    return out, label


def _transpose(s: str, p: int) -> str:
    for q in list(range(p, len(s) - 1)) + list(range(0, p)):
        if s[q] != s[q + 1]:
            return s[:q] + s[q + 1] + s[q] + s[q + 2 :]
    return s


def excel_number(nik: str) -> float | None:
    """What Excel keeps of an all-digit identifier typed as a number (15 significant digits)."""
    if not nik or not nik.isdigit():
        return None
    if len(nik) > 15:
        return float(int(nik[:15] + "0" * (len(nik) - 15)))
    return float(int(nik))


def nik_problem(nik: pd.Series, numeric: pd.Series, kk_values: pd.Index) -> pd.Series:
    """Why each NIK as written is invalid ('' when it looks valid).

    Details: missing, lost_precision (a 16+ digit number cell: its last digit is gone),
    wrong_length (also non-digits), dummy (one digit repeated, zeros included), kk_pasted
    (a family card number), bad_date, region_never_existed (a province or regency in no
    Kemendagri table), serial_0000. A well-formed NIK with an unknown district under a known
    regency is not invalid (the code may be retired or simply missing from the tables).
    """
    s = nik.fillna("").astype(str).str.strip()
    out = pd.Series("", index=nik.index, dtype=object)
    dig = s.str.fullmatch(r"\d{16}")
    y2 = pd.to_numeric(s.str[10:12].where(dig), errors="coerce")
    mm = pd.to_numeric(s.str[8:10].where(dig), errors="coerce")
    raw = pd.to_numeric(s.str[6:8].where(dig), errors="coerce")
    ok_day = raw.between(1, 31) | raw.between(41, 71)
    dd = raw.where(raw <= 40, raw - 40)
    valid_date = pd.Series(False, index=nik.index)
    for century in (1900, 2000):
        d = pd.to_datetime(
            pd.DataFrame({"year": century + y2, "month": mm, "day": dd}).where(dig & mm.between(1, 12) & ok_day),
            errors="coerce",
        )
        valid_date |= d.notna()
    # In the normaliser's order of precedence (a later line wins).
    out[dig & s.str.endswith("0000")] = "serial_0000"
    out[dig & ~s.str.slice(0, 4).isin(load_regions().known_regencies)] = "region_never_existed"
    out[~valid_date] = "bad_date"
    out[s.isin(kk_values)] = "kk_pasted"
    out[s.str.fullmatch(r"(\d)\1{15}")] = "dummy"
    out[~dig] = "wrong_length"
    out[numeric.to_numpy() & (s.str.len() >= 16).to_numpy()] = "lost_precision"
    out[s == ""] = "missing"
    return out


# ------------------------------------------------------------------------------ dates, sex


def _valid(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dates, is_valid) for component arrays (invalid entries -> NaT)."""
    ok = (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31) & (y >= 1900) & (y <= 2099)
    months = (np.where(ok, y, 1970) - 1970) * 12 + np.where(ok, m, 1) - 1
    dt = months.astype("datetime64[M]").astype("datetime64[D]") + np.where(ok, d, 1) - 1
    ok &= dt.astype("datetime64[M]") == months.astype("datetime64[M]")
    return np.where(ok, dt, np.datetime64("NaT")), ok


def _digits_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many of the 8 YYYYMMDD digits differ between two date arrays."""
    if len(a) == 0:
        return np.zeros(0, dtype=np.int64)
    fa = np.char.replace(np.datetime_as_string(a, unit="D").astype(str), "-", "")
    fb = np.char.replace(np.datetime_as_string(b, unit="D").astype(str), "-", "")
    ca = fa.astype("S8").view(np.uint8).reshape(-1, 8)
    cb = fb.astype("S8").view(np.uint8).reshape(-1, 8)
    return (ca != cb).sum(axis=1)


def corrupt_birth_dates(
    rng: np.random.Generator, dates: np.ndarray, rates: CorruptionRates, ref: np.datetime64, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(dates as written, label) — labels '', swap, digit, missing, mismatch."""
    out = np.asarray(dates, dtype="datetime64[D]").copy()
    n = len(out)
    label = np.full(n, "", dtype=object)
    if n == 0:
        return out, label
    y, m, d = date_parts(out)
    free = np.ones(n, dtype=bool)
    mm = rates.min_planted if scale == 1.0 else 0

    idx = choose(rng, n, rates.mismatch_birth_date * scale, mm, eligible=free)
    free[idx] = False
    years = rng.uniform(2, 15, len(idx)) * np.where(rng.random(len(idx)) < 0.5, -1, 1)
    new = out[idx] + (years * 365.25).astype(np.int64)
    new = np.where(new >= ref, out[idx] - (np.abs(years) * 365.25).astype(np.int64), new)
    # "Genuinely different": never one digit or a day/month swap away, which reads as a typo.
    typo_like = _digits_apart(new, out[idx]) <= 1
    new = np.where(typo_like, new - np.timedelta64(400, "D"), new)
    out[idx], label[idx] = new, "mismatch"

    swappable = free & (d <= 12) & (d != m)
    idx = choose(rng, n, rates.birth_date_swap * scale, eligible=swappable)
    free[idx] = False
    out[idx], label[idx] = _valid(y[idx], d[idx], m[idx])[0], "swap"

    idx = choose(rng, n, rates.birth_date_digit * scale, eligible=free)
    free[idx] = False
    op = rng.integers(0, 5, len(idx))
    dy = np.select([op == 0, op == 1], [np.where(rng.random(len(idx)) < 0.5, 1, -1), 10], 0)
    dm = np.where(op == 2, np.where(m[idx] < 12, 1, -1), 0)
    dd = np.select([op == 3, op == 4], [np.where(d[idx] < 28, 1, -1), np.where(d[idx] <= 18, 10, -10)], 0)
    new, ok = _valid(y[idx] + dy, m[idx] + dm, d[idx] + dd)
    # Where that gives no date (31 Jan + 1 month) or a future one: the year one less, or for
    # 29 Feb the day before -- still one part one off, as a typo is.
    year_before, has = _valid(y[idx] - 1, m[idx], d[idx])
    fallback = np.where(has, year_before, _valid(y[idx], m[idx], d[idx] - 1)[0])
    new = np.where(ok & (new < ref), new, fallback)
    out[idx], label[idx] = new, "digit"

    idx = choose(rng, n, rates.birth_date_missing * scale, eligible=free)
    out[idx], label[idx] = np.datetime64("NaT"), "missing"
    return out, label


def corrupt_sex(
    rng: np.random.Generator, sex: np.ndarray, rates: CorruptionRates, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(sex 'L'/'P'/'' as written, label '', missing, mismatch)."""
    out = np.asarray(sex, dtype=object).copy()
    n = len(out)
    label = np.full(n, "", dtype=object)
    free = np.ones(n, dtype=bool)
    idx = choose(rng, n, rates.mismatch_sex * scale, rates.min_planted if scale == 1.0 else 0, eligible=free)
    free[idx] = False
    out[idx], label[idx] = np.where(out[idx] == "L", "P", "L"), "mismatch"
    idx = choose(rng, n, rates.sex_missing * scale, eligible=free)
    out[idx], label[idx] = "", "missing"
    return out, label


# ------------------------------------------------------------------------------ addresses

_ADDR_VARIANTS = [
    (r"^JL\. ", ("JLN. ", "JALAN ", "JL ", "JL.")),
    (r" GG\. ", (" GANG ", " GG ", " GG.")),
    (r"^DSN\. ", ("DUSUN ", "DSN ", "DS. ")),
    (r"^KP\. ", ("KAMPUNG ", "KP ", "KMP. ")),
    (r" NO\. ", (" NO ", " NO.", " ")),
]


def corrupt_addresses(
    rng: np.random.Generator, address: np.ndarray, rt: np.ndarray, rw: np.ndarray, rates: CorruptionRates
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(address, rt, rw) as written: spelling variants of JL./GG./DSN./KP./NO., missing parts."""
    out = np.asarray(address, dtype=object).copy()
    n = len(out)
    idx = choose(rng, n, rates.address_variant)
    s = pd.Series(out[idx], dtype=object)
    for pattern, repl in _ADDR_VARIANTS:
        pick = np.array(repl, dtype=object)[rng.integers(0, len(repl), len(idx))]
        hit = s.str.contains(pattern, regex=True).to_numpy() & (rng.random(len(idx)) < 0.7)
        s[hit] = [re.sub(pattern, p, x, count=1) for x, p in zip(s[hit], pick[hit])]
    out[idx] = s.to_numpy(dtype=object)
    idx = choose(rng, n, rates.address_missing)
    out[idx] = ""
    rt, rw = np.asarray(rt, dtype=object).copy(), np.asarray(rw, dtype=object).copy()
    idx = choose(rng, n, rates.rt_rw_missing)
    rt[idx], rw[idx] = "", ""
    return out, rt, rw
