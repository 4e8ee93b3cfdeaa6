"""Benchmark: read + normalise N synthetic Dukcapil-style CSV rows; report rows/s and peak memory.

    python benchmarks/bench_ingest.py                 # 1,000,000 rows
    python benchmarks/bench_ingest.py --rows 100000   # quicker
    python benchmarks/bench_ingest.py --profile prof.out   # also write a cProfile of the timed part

The CSV is generated into a temporary folder first (not timed): Dukcapil columns (NIK, NO_KK,
NAMA_LGKP, JENIS_KLMIN, TMPT_LHR, TGL_LHR, ALAMAT, NO_RT, NO_RW, PROP_NAME, KAB_NAME,
KEC_NAME, KEL_NAME) with the dirt agencies send: titles, degrees, old spellings and MUHAMMAD
variants in names, aliases and BIN/BINTI, dates in five formats, RT/RW inside the address
text in several notations, region names with KAB./KABUPATEN/KOTA variants, NIKs missing,
malformed, dummy or in scientific notation, a few blank and totals rows.

Then `read_source` + `normalize_source` run once, timed, in a fresh child process so that
the generator's memory does not count. Peak memory is that process's high-water mark
(VmHWM; ru_maxrss where there is no /proc). `/usr/bin/time -v` on the whole script gives a
second opinion (it reports the largest of the two processes).
Target (issue 2): 1 M rows in < 30 s and < 3 GiB peak on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

TARGET_SECONDS_PER_MILLION = 30.0
TARGET_PEAK_GIB = 3.0

COLUMNS = {
    "nik": "NIK",
    "kk": "NO_KK",
    "name": "NAMA_LGKP",
    "sex": "JENIS_KLMIN",
    "birth_place": "TMPT_LHR",
    "birth_date": "TGL_LHR",
    "address": "ALAMAT",
    "rt": "NO_RT",
    "rw": "NO_RW",
    "province": "PROP_NAME",
    "regency": "KAB_NAME",
    "district": "KEC_NAME",
    "village": "KEL_NAME",
    "mother_name": "NAMA_LGKP_IBU",
}

GIVEN = (
    "SITI AMINAH AHMAD BUDI SRI WAHYUNI DEWI LESTARI AGUS SANTOSO RINA NUR HIDAYAT EKO PRASETYO "
    "JOKO DJOKO SOEPARMAN SUPARMAN TJIPTO CIPTO SOEMARNI SUMARNI YUSUF ISMAIL RAHMAT HASAN HUSEIN "
    "WAYAN MADE NYOMAN KETUT PUTU KADEK GEDE ANDI RIZKI FAJAR IKHSAN CHAIRUL KHAIRUL SYAHRIR SJAHRIR "
    "ANI YANI TUTI ENDANG SUKARNI MARYAM FATIMAH ZAINAB AISYAH KARTINI SUMIATI SUWARNO SLAMET "
    "BAMBANG HERU DWI TRI ADI PUTRA PUTRI INDAH AYU RATNA SARI MULYADI SUGENG SUDARSO PARDI "
    "TEGUH IMAM ARIF HENDRA YOGI DEDI ASEP UJANG NENG EUIS CUCU DADANG ENTIS OMAN KOMARUDIN"
).split()
FAMILY = (
    "SANTOSO WIBOWO SIREGAR NASUTION HARAHAP LUBIS SIMANJUNTAK HUTAPEA PANJAITAN TAMPUBOLON "
    "SETIAWAN KURNIAWAN GUNAWAN SUSANTO HARTONO WIJAYA HALIM TANJUNG SIAGIAN SINAGA "
    "RAHMAN HAKIM SALEH ABDULLAH HASIBUAN POHAN DAULAY RITONGA MATONDANG PULUNGAN"
).split()
MUHAMMAD = ["MUHAMMAD", "MUHAMAD", "M.", "MOH.", "MOCH.", "MOCHAMAD", "MOCHAMMAD", "MUH.", "MHD.", "MOHD."]
TITLES = ["H.", "HJ.", "DRS.", "IR.", "DR.", "HJ", "PROF. DR."]
DEGREES = [", S.PD", ", S.E.", ", S.H.", " S.KOM", ", S.SOS", ", A.MD", ", M.PD", ", M.M."]
STREETS = "MAWAR MELATI ANGGREK KENANGA SUDIRMAN DIPONEGORO MERDEKA PAHLAWAN RAYA KRAJAN PASAR BARU".split()
STREET_TOKENS = ["JL.", "JLN.", "JALAN", "GG.", "GANG", "DSN.", "DUSUN", "KP.", "KAMPUNG"]
MONTHS = ["JANUARI", "FEBRUARI", "MARET", "APRIL", "MEI", "JUNI", "JULI", "AGUSTUS", "SEPTEMBER", "OKTOBER", "NOPEMBER", "DESEMBER"]


def _pick(rng: np.random.Generator, pool, n: int) -> np.ndarray:
    return np.asarray(pool, dtype=object)[rng.integers(0, len(pool), n)]


def _cat(*parts) -> np.ndarray:
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + p
    return out


def _z(values: np.ndarray, width: int) -> np.ndarray:
    return pd.Series(values).astype(str).str.zfill(width).to_numpy(dtype=object)


def _villages(rng: np.random.Generator, count: int) -> pd.DataFrame:
    """`count` random villages with the names of their district, regency and province."""
    from bansos_merge.regions import load_regions

    reg = load_regions().regions
    names = reg.set_index("code")["name"]
    vil = reg[reg["level"] == "village"].sample(count, random_state=int(rng.integers(1 << 31)))
    code = vil["code"]
    return pd.DataFrame(
        {
            "village": vil["name"].to_numpy(),
            "district": names.reindex(code.str.slice(0, 6)).to_numpy(),
            "regency": names.reindex(code.str.slice(0, 4)).to_numpy(),
            "province": names.reindex(code.str.slice(0, 2)).to_numpy(),
            "district_code": code.str.slice(0, 6).to_numpy(),
        }
    )


CHUNK = 200_000


def generate(n: int, path: Path, seed: int = 20261129) -> None:
    """Write n Dukcapil-like rows with realistic dirt to `path` (UTF-8 CSV), in chunks to keep
    the generator's memory small; a totals row ends the file."""
    rng = np.random.default_rng(seed)
    villages = _villages(rng, 5000)
    with path.open("w", encoding="utf-8", newline="") as out:
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            chunk = _chunk(rng, villages, size, last=start + size == n)
            chunk.to_csv(out, index=False, header=start == 0, lineterminator="\n")


def _chunk(rng: np.random.Generator, villages: pd.DataFrame, n: int, last: bool) -> pd.DataFrame:
    vil = villages.iloc[rng.integers(0, len(villages), n)].reset_index(drop=True)
    female = rng.random(n) < 0.5

    # Names: 1-3 words, some MUHAMMAD forms, titles, degrees, aliases, BIN/BINTI.
    first = _pick(rng, GIVEN, n)
    first = np.where(~female & (rng.random(n) < 0.12), _pick(rng, MUHAMMAD, n) + " " + first, first)
    second = np.where(rng.random(n) < 0.7, " " + _pick(rng, GIVEN, n), "")
    family = np.where(rng.random(n) < 0.4, " " + _pick(rng, FAMILY, n), "")
    name = _cat(first, second, family)
    u = rng.random(n)
    name = np.where(u < 0.05, _pick(rng, TITLES, n) + " " + name, name)
    name = np.where((u > 0.05) & (u < 0.08), name + _pick(rng, DEGREES, n), name)
    name = np.where((u > 0.08) & (u < 0.09), name + " / " + _pick(rng, GIVEN, n), name)
    name = np.where((u > 0.09) & (u < 0.11), name + np.where(female, " BINTI ", " BIN ") + _pick(rng, GIVEN, n), name)
    name = np.where((u > 0.11) & (u < 0.13), pd.Series(name).str.title().to_numpy(dtype=object), name)

    # Birth dates 1935-2020, five formats.
    days = rng.integers(np.datetime64("1935-01-01").astype(int), np.datetime64("2020-12-31").astype(int), n)
    birth = pd.Series(days.astype("datetime64[D]"))
    y, m, d = birth.dt.year.to_numpy(), birth.dt.month.to_numpy(), birth.dt.day.to_numpy()
    fmt = rng.random(n)
    dmy = _cat(_z(d, 2), np.full(n, "-", object), _z(m, 2), np.full(n, "-", object), y.astype(str).astype(object))
    iso = birth.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    short = _cat(_z(d, 2), np.full(n, "/", object), _z(m, 2), np.full(n, "/", object), _z(y % 100, 2))
    named = _cat(d.astype(str).astype(object), np.full(n, " ", object), np.asarray(MONTHS, object)[m - 1],
                 np.full(n, " ", object), y.astype(str).astype(object))
    compact = birth.dt.strftime("%Y%m%d").to_numpy(dtype=object)
    tgl = np.select([fmt < 0.55, fmt < 0.75, fmt < 0.85, fmt < 0.95], [dmy, iso, short, named], compact)
    tgl = np.where(rng.random(n) < 0.01, "", tgl)

    # NIK: district + DDMMYY (+40 for women) + serial; some dirt.
    serial = rng.integers(1, 3000, n)
    nik = _cat(vil["district_code"].to_numpy(dtype=object), _z(d + 40 * female, 2), _z(m, 2), _z(y % 100, 2), _z(serial, 4))
    kk = _cat(vil["district_code"].to_numpy(dtype=object), _z(rng.integers(0, 10**10, n), 10))
    v = rng.random(n)
    nik = np.where(v < 0.02, "", nik)
    nik = np.where((v > 0.02) & (v < 0.03), pd.Series(nik).str.slice(0, 15).to_numpy(dtype=object), nik)
    nik = np.where((v > 0.03) & (v < 0.035), pd.Series(nik).str.slice(0, 1) + "." + pd.Series(nik).str.slice(1, 6) + "E+15", nik)
    nik = np.where((v > 0.035) & (v < 0.04), "2222222222222222", nik)
    nik = np.where((v > 0.04) & (v < 0.045), kk, nik)

    # Address with RT/RW inside the text (half the rows), RT/RW columns without leading zeros.
    rt, rw = rng.integers(1, 25, n), rng.integers(1, 15, n)
    street = _cat(_pick(rng, STREET_TOKENS, n), np.full(n, " ", object), _pick(rng, STREETS, n))
    street = np.where(rng.random(n) < 0.5, street + " NO. " + rng.integers(1, 200, n).astype(str).astype(object), street)
    notation = rng.random(n)
    rtrw = np.select(
        [notation < 0.15, notation < 0.3, notation < 0.4, notation < 0.5],
        [
            _cat(np.full(n, " RT ", object), _z(rt, 3), np.full(n, " RW ", object), _z(rw, 3)),
            _cat(np.full(n, " RT.", object), _z(rt, 2), np.full(n, "/RW.", object), _z(rw, 2)),
            _cat(np.full(n, " RT/RW ", object), _z(rt, 3), np.full(n, "/", object), _z(rw, 3)),
            _cat(np.full(n, " ", object), _z(rt, 3), np.full(n, "/", object), _z(rw, 3)),
        ],
        "",
    )
    address = street + rtrw

    # Region names as Dukcapil writes them, with KAB./KABUPATEN variants.
    regency = vil["regency"].str.upper().to_numpy(dtype=object)
    regency = np.where(rng.random(n) < 0.3, pd.Series(regency).str.replace("KABUPATEN ", "KAB. ").to_numpy(dtype=object), regency)

    frame = pd.DataFrame(
        {
            "NIK": nik,
            "NO_KK": kk,
            "NAMA_LGKP": name,
            "JENIS_KLMIN": np.where(female, _pick(rng, ["P", "PEREMPUAN", "2"], n), _pick(rng, ["L", "LAKI-LAKI", "1"], n)),
            "TMPT_LHR": vil["regency"].str.upper().str.replace(r"^(?:KABUPATEN|KOTA) ", "", regex=True).to_numpy(),
            "TGL_LHR": tgl,
            "ALAMAT": address,
            "NO_RT": rt.astype(str),
            "NO_RW": rw.astype(str),
            "PROP_NAME": vil["province"].str.upper().to_numpy(),
            "KAB_NAME": regency,
            "KEC_NAME": vil["district"].str.upper().to_numpy(),
            "KEL_NAME": vil["village"].str.upper().to_numpy(),
            "NAMA_LGKP_IBU": _cat(_pick(rng, GIVEN, n), np.full(n, " ", object), _pick(rng, GIVEN, n)),
        }
    )
    # A little garbage: blank rows, and a totals row at the end of the file.
    blank = rng.random(n) < 0.001
    frame.loc[blank, :] = ""
    if last:
        frame.loc[n - 1, :] = ""
        frame.loc[n - 1, "NIK"] = "JUMLAH"
    return frame


def _peak_rss_kib() -> int:
    """Peak resident memory of this process. VmHWM where there is /proc: ru_maxrss survives
    fork+exec on Linux and would report the generator's peak instead of ours."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(path: Path) -> dict:
    """Time read + normalise of `path` in this process; return the figures."""
    from bansos_merge.config import SourceConfig
    from bansos_merge.ingest.source import read_source
    from bansos_merge.normalize.source import normalize_source
    from bansos_merge.regions import load_regions

    load_regions()  # the shipped tables load once per process: not part of the per-row cost
    src = SourceConfig(name="dukcapil", path=str(path), kind="civil_registry", columns=COLUMNS)
    t0, c0 = time.perf_counter(), time.process_time()
    read = read_source(src)
    t1 = time.perf_counter()
    norm = normalize_source(read)
    t2, c2 = time.perf_counter(), time.process_time()
    acc = norm.accounting()
    return {
        "rows": acc["rows_read"],
        "accepted": acc["accepted"],
        "rejected": acc["rejected"],
        "read_s": round(t1 - t0, 2),
        "normalise_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
        "rows_per_s": round(acc["rows_read"] / (t2 - t0)),
        # CPU seconds of this process: on a shared machine, wall time also counts others' work.
        "cpu_s": round(c2 - c0, 2),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "peak_rss_gib": round(_peak_rss_kib() / 2**20, 3),
        "file_mib": round(path.stat().st_size / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=20261129)
    p.add_argument("--profile", help="write a cProfile of the timed part here (runs in-process)")
    p.add_argument("--measure", help=argparse.SUPPRESS)  # internal: measure this CSV and print JSON
    args = p.parse_args(argv)

    if args.measure:
        if args.profile:
            import cProfile

            prof = cProfile.Profile()
            result = prof.runcall(measure, Path(args.measure))
            prof.dump_stats(args.profile)
        else:
            result = measure(Path(args.measure))
        print(json.dumps(result))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        path = Path(tmp) / "dukcapil.csv"
        t0 = time.perf_counter()
        generate(args.rows, path, args.seed)
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f} s")
        # Measure in a fresh process: its peak RSS is ingest + normalise only.
        cmd = [sys.executable, __file__, "--measure", str(path)] + (["--profile", args.profile] if args.profile else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=dict(os.environ)).stdout
    result = json.loads(out.strip().splitlines()[-1])
    target_s = TARGET_SECONDS_PER_MILLION * result["rows"] / 1e6
    ok = result["total_s"] < target_s and result["peak_rss_gib"] < TARGET_PEAK_GIB
    print(
        f"{result['rows']:,} rows: read {result['read_s']} s + normalise {result['normalise_s']} s = "
        f"{result['total_s']} s ({result['rows_per_s']:,} rows/s; {result['cpu_s']} CPU s, load average "
        f"{result['load_avg_1min']} on {os.cpu_count()} cores); peak RSS {result['peak_rss_gib']} GiB; "
        f"accepted {result['accepted']:,}, rejected {result['rejected']:,}"
    )
    print(f"target: < {target_s:.1f} s and < {TARGET_PEAK_GIB} GiB -> {'MET' if ok else 'MISSED'}")
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
