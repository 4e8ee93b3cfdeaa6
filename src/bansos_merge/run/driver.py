"""One merge run, stage by stage, over records kept on disk in parts (see parts.py).

  read and normalise   each source a slice at a time into raw slices, normalised into parts
  link                 the parts' link frames stacked; blocking, comparison, training, scoring
  cluster              persons, stable IDs and the review queue, with the analysts' decisions
  assemble             records, registry, conflicts and review rows per person partition
  publish              the run's files, then `latest` switched to it

The stages' units of work run on an executor (run/executor.py): threads of this process by
default, Prefect tasks in `pipelines/merge_flow.py`. The driver holds compact arrays only; a
failure or an interruption anywhere removes the run's partial folder, so nothing half-done is
published. Logs carry source names and counts, never personal data.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..cluster.resolve import Resolution, resolve_with
from ..config import MergeConfig, load_config
from ..decisions.constraints import load_decisions
from ..errors import UserError
from ..ingest.check import file_messages
from ..ingest.source import preflight
from ..link.blocking import candidate_pairs
from ..link.features import LinkFrame
from ..link.linker import Links, compare_chunk, labelled_pairs, learn, pair_chunks, score_candidates, train
from ..link.model import FSModel, link_term_frequencies
from ..normalize.source import gather_source
from ..parts import (
    assemble_partition,
    decision_constraints,
    decision_keys,
    gather_partitions,
    normalise_to_part,
    partition_plan,
    per_part,
    prepare_part,
    read_to_slices,
    shuffle_part,
    stack_views,
)
from ..publish.manifest import now_utc
from ..publish.outputs import ORDER, history_so_far, run_manifest, write_run
from ..publish.previous import PreviousRun, load_previous, previous_manifest
from ..publish.registry import person_codes
from ..publish.run_folder import RunFolder
from ..publish.shrink import shrink_message, shrink_problems
from .executor import Executor, LocalExecutor
from .progress import Progress
from .sharded_link import block_and_compare

STAGES = ("read and normalise", "link", "cluster", "assemble", "publish")


def run_local(config_path: str, output_dir: str | None = None, allow_shrink: bool = False, run_id: str | None = None,
              log: logging.Logger | None = None, progress: Progress | None = None) -> tuple[Path, dict]:
    """The whole run on threads of this process; returns the published run folder and its manifest."""
    with LocalExecutor() as executor:
        return run(config_path, output_dir, executor, log or logging.getLogger("bansos_merge.run"), allow_shrink, run_id, progress)


def run(config_path: str, output_dir: str | None, executor: Executor, log: logging.Logger, allow_shrink: bool = False,
        run_id: str | None = None, progress: Progress | None = None) -> tuple[Path, dict]:
    """Read every source, normalise, link, cluster, publish a run on `executor`; returns the
    run folder and its manifest. A run whose sources shrank since the previous one stops,
    unless `allow_shrink`. `progress` shows the long stages (default: a bar on a terminal)."""
    started = now_utc()
    config = load_config(config_path, output_dir)
    preflight(config)
    folder = RunFolder(Path(config.output_dir), run_id)
    partial = folder.start()
    try:
        manifest = _merge(executor, log, progress or Progress(log), started, config, config_path, folder, partial, allow_shrink)
        final = folder.commit(keep=config.publish.keep_runs)
    except BaseException:
        folder.abandon()
        raise
    log.info("run published: %s", final)
    return final, manifest


def _merge(
    executor: Executor, log: logging.Logger, progress: Progress, started: str, config: MergeConfig, config_path: str, run: RunFolder,
    folder: Path, allow_shrink: bool,
) -> dict:
    work = run.work
    for sub in ("raw", "parts", "shuffle", "records", "registry", "conflicts", "review"):
        (work / sub).mkdir(mode=0o700)
    stage = _Stages(log)
    execution = config.execution
    sources_with_ids = {s.name for s in config.sources if s.id_column}

    stage("read and normalise", f"{len(config.sources)} sources")
    # Sources are read in parallel, each a slice at a time (CSV streamed) into raw slice files;
    # the slices are then normalised in parallel into parts. A read error surfaces here as itself.
    with progress.watch("reading", work / "raw", "*/*.pkl", None, f"slices (of up to {execution.partition_rows:,} rows)"):
        reads = executor.map(
            "read", read_to_slices,
            {"src": config.sources, "folder": [work / "raw" / f"{i:03d}" for i in range(len(config.sources))]},
            {"rows": execution.partition_rows}, io=True,
        )
    raw = [path for _, paths in reads for path in paths]
    with progress.watch("normalising", work / "parts", "*.pkl", len(raw), "slices"):
        spilled = iter(executor.map("normalise", normalise_to_part, {"raw": raw, "path": [work / "parts" / f"{i:05d}.pkl" for i in range(len(raw))]}))
    sources, parts, kks, rejects = [], [], [], []
    for read, paths in reads:
        mine = [next(spilled) for _ in paths]
        source = gather_source(read, [(s.part.n, s.rejects) for s in mine])
        acc = source.accounting()
        log.info("  %s: %s rows read, %s accepted, %s rejected", source.name, f"{acc['rows_read']:,}", f"{acc['accepted']:,}", f"{acc['rejected']:,}")
        for entry in source.files:
            for line in (m for messages in file_messages(source.name, entry) for m in messages):
                log.warning("  %s", line)
        sources.append(source)
        parts += [s.part for s in mine]
        kks += [s.kks for s in mine]
        rejects.append(source.rejects)
    shrunk = _shrink_guard(log, Path(config.output_dir), sources, allow_shrink)
    rejects = pd.concat(rejects, ignore_index=True)
    kks = pd.concat(kks, ignore_index=True).drop_duplicates()

    stage("link", f"{sum(p.n for p in parts):,} records")
    decisions = load_decisions(config.state_path)
    views = executor.map(
        "prepare", prepare_part, {"part": parts},
        {"kks": kks, "sources_with_ids": sources_with_ids, "decision_keys": decision_keys(decisions)},
    )
    run_records = stack_views(parts, views)
    frame = run_records.frame
    del views, kks
    must, cannot, decided = decision_constraints(decisions, run_records.named)
    with progress.watch("blocking"), executor.cluster() as client:
        # On a Dask cluster, blocking and comparing are sharded into buckets on its workers.
        sharded = block_and_compare(frame, config.linkage.max_block, len(parts), client) if client is not None else None
        pairs, blocking = (sharded[0], sharded[2]) if sharded else executor.call("block", candidate_pairs, f=frame, max_block=config.linkage.max_block)
    chunks = pair_chunks(pairs, execution.pair_chunk, at_least=os.cpu_count() or 1)
    log.info("  %s candidate pairs in %d chunks%s", f"{len(pairs):,}", len(chunks), f", found in {len(parts)} buckets a pass on the Dask cluster" if sharded else "")
    with progress.watch("comparing"):
        gammas = (
            np.split(sharded[1], np.cumsum([len(c) for c in chunks])[:-1]) if sharded
            else executor.map("compare", compare_chunk, {"pairs": chunks}, {"f": frame})
        )
    model = executor.call(
        "train", train_model_of, frame=frame, pairs=pairs, gamma=np.concatenate(gammas), registry_apart=blocking.registry_apart,
        config=config, labels=labelled_pairs(must, cannot),
    )
    scored = executor.map("score", score_candidates, {"pairs": chunks, "gamma": gammas}, {"f": frame, "model": model, "tf": link_term_frequencies(frame)})
    links = Links(frame, pd.concat(scored, ignore_index=True), model, blocking)
    del pairs, chunks, gammas, scored

    stage("cluster", "persons and stable IDs, with the analysts' decisions")
    previous = load_previous(Path(config.output_dir))
    log.info(
        "  analysts' decisions: %d same person, %d different people applied; %d no longer apply (records changed)",
        decided["applied_same"], decided["applied_different"], decided["stale_count"],
    )
    resolution = executor.call(
        "cluster", cluster, keys=run_records.keys, links=links, config=config, run_id=run.run_id, previous=previous, must=must, cannot=cannot
    )
    queue = resolution.counts["review"]
    log.info(
        "  %s persons; review queue %s pairs in %s items (%.2f per 100 records, budget %s), %s decided automatically",
        f"{resolution.counts['persons']:,}", f"{queue['pairs']:,}", f"{queue['items']:,}", queue["per_100_records"],
        f"{queue['budget']:,}", f"{sum(queue['decided_automatically'].values()):,}",
    )

    review = resolution.review.assign(**{ORDER: np.arange(len(resolution.review))})
    left, right = review["left"].to_numpy(), review["right"].to_numpy()
    plan = partition_plan(person_codes(resolution.person_id).code, frame.nik, left, right, execution.person_partition_rows)
    count = int(plan.max()) + 1 if len(plan) else 1  # a run with no records has one, empty
    offsets = run_records.offsets
    del links, frame, run_records  # the link frame and the pairs: done with

    stage("assemble", f"registry and conflicts, {count} person partition(s)")
    with progress.watch("sorting records into partitions"):
        shuffled = executor.map(
            "shuffle", shuffle_part,
            {
                "part": parts, "offset": list(offsets[:-1]), "partition": per_part(plan, offsets),
                "person_id": per_part(resolution.person_id, offsets), "link_score": per_part(resolution.link_score, offsets),
                "index": list(range(len(parts))),
            },
            {"folder": work / "shuffle"}, io=True,
        )
    with progress.watch("assembling", work / "review", "*.arrow", count, "partitions"):
        results = executor.map(
            "assemble", assemble_partition,
            {"pieces": [[s[k] for s in shuffled if k in s] for k in range(count)], "review": [review[plan[left] == k] for k in range(count)],
             "k": list(range(count))},
            {"as_of": {s.name: s.as_of for s in sources}, "civil_registry": any(s.kind == "civil_registry" and s.accepted for s in sources),
             "out": work},
        )
    outputs = gather_partitions(results, work, rejects, history_so_far(resolution, previous), model, config.publish.workbook_rows_per_kind)
    manifest = run_manifest(run.run_id, started, config, config_path, sources, blocking, resolution, outputs, decided)
    manifest["decisions"] = decided
    manifest["execution"] = {"parts": len(parts), "person_partitions": count}
    manifest["shrink_guard"] = {"allow_shrink": allow_shrink, "overridden": shrunk}
    log.info("  conflicts: %s", ", ".join(f"{k} {v:,}" for k, v in manifest["conflicts"].items() if v) or "none")

    stage("publish", str(run.final))
    manifest["stages_s"] = stage.seconds  # the stages before publishing; the manifest is written by it
    with progress.watch("writing the outputs"):
        executor.call("publish", write_run, io=True, folder=folder, outputs=outputs, manifest=manifest, publish=config.publish,
                      key_dir=run.runs)
    stage.done()
    return manifest


def train_model_of(frame: LinkFrame, pairs: pd.DataFrame, gamma: np.ndarray, registry_apart: int, config: MergeConfig,
                   labels: pd.DataFrame) -> FSModel:
    """The run's model: trained, or the configured one reused; then what the analysts' labels teach."""
    lk = config.linkage
    model = FSModel.load(Path(lk.model_path)) if lk.model_path else train(frame, pairs, gamma, lk.seed, registry_apart)
    return learn(model, frame, labels, lk.match_threshold) if lk.learn_from_decisions else model


def cluster(keys: pd.Series, links: Links, config: MergeConfig, run_id: str, previous: PreviousRun | None, must: pd.DataFrame,
            cannot: pd.DataFrame) -> Resolution:
    """Persons, stable IDs and the review queue, over the stacked records' keys."""
    return resolve_with(
        config, None, links, run_id, previous.records if previous else None, previous.known_ids if previous else set(), must, cannot, keys=keys
    )


def _shrink_guard(log: logging.Logger, output_dir: Path, sources: list, allow_shrink: bool) -> list[str]:
    """Stop the run when its sources shrank since the previous one, unless allowed; returns
    what shrank (for the manifest)."""
    previous = previous_manifest(output_dir)
    problems = shrink_problems(previous, {s.name: s.accounting()["accepted"] for s in sources})
    if problems and not allow_shrink:
        raise UserError(shrink_message(problems, previous["run_id"]))
    for problem in problems:
        log.warning("  --allow-shrink: %s", problem)
    return problems


class _Stages:
    """Numbered stage lines on the console, so a long run shows where it is, and each stage's
    seconds (`seconds`, in the manifest as `stages_s`)."""

    def __init__(self, log: logging.Logger) -> None:
        self.log, self.n, self.seconds, self._at = log, 0, {}, None

    def __call__(self, name: str, detail: str) -> None:
        self.done()
        self.n += 1
        self._at = (name, time.perf_counter())
        self.log.info("[%d/%d] %s: %s", self.n, len(STAGES), name, detail)

    def done(self) -> None:
        if self._at is not None:
            name, started = self._at
            self.seconds[name] = round(time.perf_counter() - started, 2)
            self._at = None
