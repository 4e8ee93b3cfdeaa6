"""Blocking, comparison and scoring sharded on Dask (link/sharded.py) give the local run's
candidate pairs, levels, weights and blocking report (blocking.candidate_pairs, compare,
score), on a generated sample cut into many partitions and buckets, with the default caps and
with caps small enough to skip many blocks; a pair that several passes find is kept once, with
the first; a pair of records read far apart, of a person who moved, is found."""

from __future__ import annotations

from pathlib import Path

import dask
import dask.dataframe as dd
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from linkage_fixtures import KEBUMEN, SUKABUMI, background, load_records, make_nik, small_records, small_row

from bansos_merge.link import sharded
from bansos_merge.link.blocking import BLOCKING, candidate_pairs
from bansos_merge.link.comparisons import COMPARISONS
from bansos_merge.link.feature_table import from_table, to_table
from bansos_merge.link.features import build_link_frame
from bansos_merge.link.linker import compare_chunk, score_candidates, train
from bansos_merge.link.model import link_term_frequencies


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> pd.DataFrame:
    _, records = load_records(background(tmp_path_factory.mktemp("sharded"), 1500, 11) / "merge.yaml")
    return records


def _dask_table(f, partitions: int) -> dd.DataFrame:
    """The records' link features, without the columns that need every record (the workers add them)."""
    table = to_table(f).drop(columns=["nik_registered"])
    return sharded.with_run_columns(dd.from_pandas(table, npartitions=partitions, sort=False))


def _local_and_sharded(records: pd.DataFrame, max_block: int, partitions: int, buckets: int):
    f = build_link_frame(records)
    pairs, report = candidate_pairs(f, max_block)
    gamma = compare_chunk(f, pairs)
    model = train(f, pairs, gamma, 20261129, report.registry_apart)
    local = score_candidates(f, pairs, model, gamma).sort_values(["left", "right"]).reset_index(drop=True)
    found, shard_report = sharded.sharded_candidates(_dask_table(f, partitions), max_block, buckets)
    scored = sharded.score(found, model).compute().sort_values(["left", "right"]).reset_index(drop=True)
    return local, report, scored, shard_report


@pytest.mark.parametrize("max_block, partitions, buckets", [(200, 7, 5), (3, 4, 9)])
def test_sharded_pairs_scores_and_report_equal_the_local_run(sample: pd.DataFrame, max_block: int, partitions: int, buckets: int) -> None:
    with dask.config.set(scheduler="synchronous"):
        local, report, scored, shard_report = _local_and_sharded(sample, max_block, partitions, buckets)
    assert len(local) > 1000
    if max_block == 3:  # the caps really cut: blocks skipped in several passes
        assert sum(p["blocks_skipped"] > 0 for p in report.passes) >= 3
    assert shard_report.passes == report.passes
    assert shard_report.registry_apart == report.registry_apart > 0
    pd.testing.assert_frame_equal(scored, local, check_exact=True)


def test_sharded_linkage_on_a_local_cluster(sample: pd.DataFrame) -> None:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, Client(cluster):
        local, report, scored, shard_report = _local_and_sharded(sample, 200, 6, 4)
    assert shard_report.passes == report.passes
    pd.testing.assert_frame_equal(scored, local, check_exact=True)


def test_feature_table_round_trip_keeps_pairs_and_levels(sample: pd.DataFrame) -> None:
    f = build_link_frame(sample)
    back = from_table(to_table(f, link_term_frequencies(f)))
    pairs, report = candidate_pairs(f)
    again, report_again = candidate_pairs(back)
    pd.testing.assert_frame_equal(again, pairs)
    assert report_again.passes == report.passes
    assert (compare_chunk(back, pairs) == compare_chunk(f, pairs)).all()


def test_a_pair_found_by_two_passes_is_kept_once_and_a_person_who_moved_is_found(tmp_path: Path) -> None:
    nik_a = make_nik(SUKABUMI, "12-05-1970", "P", 1)
    nik_b = make_nik(SUKABUMI, "03-11-1985", "L", 2)
    rows = [
        small_row(nik_a, "SITI AMINAH", "12-05-1970", SUKABUMI),  # 0: with 1, found by several passes
        small_row(nik_b, "DEDI KURNIAWAN", "03-11-1985", SUKABUMI),  # 2: moved to Kebumen, with 5
        small_row(make_nik(KEBUMEN, "07-02-1990", "L", 3), "BUDI SANTOSO", "07-02-1990", KEBUMEN),
        small_row(make_nik(SUKABUMI, "21-09-1962", "P", 4), "NENG YULIANTI", "21-09-1962", SUKABUMI),
        small_row(nik_a, "SITI AMINAH", "12-05-1970", SUKABUMI),
        small_row(nik_b, "DEDI KURNIAWAN", "03-11-1985", KEBUMEN),
    ]
    f = build_link_frame(small_records(tmp_path, rows))
    local, _ = candidate_pairs(f)
    with dask.config.set(scheduler="synchronous"):
        found, report = sharded.sharded_candidates(_dask_table(f, len(rows)), buckets=3)  # one record per partition
        found = found.compute()
    by_pass = {p["pass"]: p for p in report.passes}
    passes = [p.name for p in BLOCKING]
    same = found[(found["left"] == 0) & (found["right"] == 4)]
    assert len(same) == 1 and passes[int(same["pass"].iloc[0])] == "nik_exact"
    assert by_pass["nik_exact"]["pairs"] == by_pass["name_birth_date"]["pairs"] == 2  # both pairs, in both passes
    assert by_pass["name_birth_date"]["new_pairs"] == 0
    moved = found[(found["left"] == 1) & (found["right"] == 5)]
    address = [c.name for c in COMPARISONS].index("address")
    assert len(moved) == 1 and int(moved.iloc[0, 3 + address]) == COMPARISONS[address].levels.index("different_place")
    assert not found.duplicated(["left", "right"]).any()
    assert sorted(zip(found["left"], found["right"])) == sorted(zip(local["left"], local["right"]))


def test_a_run_s_sharded_linkage_runs_on_the_workers_of_a_client_that_is_not_the_default(sample: pd.DataFrame) -> None:
    """prefect-dask's client is not Dask's default: the run's sharded linkage must still compute
    on its cluster, not on the driver's threads."""
    from distributed import get_task_stream

    from bansos_merge.run.sharded_link import block_and_compare

    f = build_link_frame(sample)
    pairs, report = candidate_pairs(f)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        with Client(cluster, set_as_default=False) as client, get_task_stream(client) as stream:
            found, gamma, shard_report = block_and_compare(f, 200, 3, client)
    keys = [str(task.get("key")) for task in stream.data]
    assert any("bucket_pass" in key for key in keys)
    assert any("p2pshuffle" in key or "shuffle-transfer" in key for key in keys), "not the cluster's own shuffle"
    pd.testing.assert_frame_equal(found, pairs)
    assert (gamma == compare_chunk(f, pairs)).all() and shard_report.passes == report.passes
