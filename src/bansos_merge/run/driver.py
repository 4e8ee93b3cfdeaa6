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
from dataclasses import dataclass
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
from . import incremental
from .executor import Executor, LocalExecutor
from .memory import limit_malloc_arenas
from .progress import Progress
from .sharded_link import block_and_compare
from .state import (
    STATE,
    STATE_VERSION,
    frame_digest,
    kept_part,
    linkage_fingerprint,
    normalise_and_keep,
    read_frame,
    rejects_path,
    restore_part,
    restored_source,
    source_entry,
    write_frame,
    write_state,
)

STAGES = ("read and normalise", "link", "cluster", "assemble", "publish")


def run_local(config_path: str, output_dir: str | None = None, allow_shrink: bool = False, run_id: str | None = None,
              log: logging.Logger | None = None, progress: Progress | None = None, incremental: bool = False,
              retrain: bool = False) -> tuple[Path, dict]:
    """The whole run on threads of this process; returns the published run folder and its manifest."""
    with LocalExecutor() as executor:
        return run(config_path, output_dir, executor, log or logging.getLogger("bansos_merge.run"), allow_shrink, run_id, progress,
                   incremental, retrain)


def run(config_path: str, output_dir: str | None, executor: Executor, log: logging.Logger, allow_shrink: bool = False,
        run_id: str | None = None, progress: Progress | None = None, incremental: bool = False, retrain: bool = False
        ) -> tuple[Path, dict]:
    """Read every source, normalise, link, cluster, publish a run on `executor`; returns the
    run folder and its manifest. A run whose sources shrank since the previous one stops,
    unless `allow_shrink`. `progress` shows the long stages (default: a bar on a terminal).
    `incremental`: start from the latest run's state (run/incremental.py), or say in one line
    why not and run in full; `retrain`: an incremental run trains its model afresh."""
    started = now_utc()
    limit_malloc_arenas()
    config = load_config(config_path, output_dir)
    preflight(config)
    folder = RunFolder(Path(config.output_dir), run_id)
    partial = folder.start()
    try:
        manifest = _merge(executor, log, progress or Progress(log), started, config, config_path, folder, partial, allow_shrink,
                          _Mode(incremental, retrain))
        final = folder.commit(keep=config.publish.keep_runs)
    except BaseException:
        folder.abandon()
        raise
    log.info("run published: %s", final)
    return final, manifest


@dataclass
class _Mode:
    """What the run was asked for: incremental (from the latest run's state), and retraining."""

    incremental: bool = False
    retrain: bool = False


def _merge(
    executor: Executor, log: logging.Logger, progress: Progress, started: str, config: MergeConfig, config_path: str, run: RunFolder,
    folder: Path, allow_shrink: bool, mode: _Mode | None = None,
) -> dict:
    work = run.work
    for sub in ("raw", "parts", "shuffle", "records", "registry", "conflicts", "review"):
        (work / sub).mkdir(mode=0o700)
    stage = _Stages(log)
    execution = config.execution
    sources_with_ids = {s.name for s in config.sources if s.id_column}
    mode = mode or _Mode()
    base = incremental.plan(config, log) if mode.incremental else None
    if isinstance(base, str):
        log.warning("  incremental: falling back to a full run: %s", base)
    fallback, base = (base, None) if isinstance(base, str) else (None, base)
    state_dir = folder / STATE

    stage("read and normalise", f"{len(config.sources)} sources")
    sources, parts, kks, rejects, parts_per_source = _read_sources(executor, log, progress, config, work, state_dir, base)
    shrunk = _shrink_guard(log, Path(config.output_dir), sources, allow_shrink)
    rejects = pd.concat([r for r in rejects if len(r)] or rejects, ignore_index=True)
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
    digest = frame_digest(frame)
    record_sources = np.repeat([p.source for p in parts], [p.n for p in parts])
    if base is None:
        with executor.cluster() as client:
            if client is not None:  # on a Dask cluster, blocking and comparing are sharded into buckets on its workers
                with progress.watch("blocking and comparing"):
                    pairs, gamma, blocking = block_and_compare(frame, config.linkage.max_block, len(parts), client)
                log.info("  %s candidate pairs, found in %d buckets a pass on the Dask cluster", f"{len(pairs):,}", len(parts))
        if client is None:
            with progress.watch("blocking"):
                pairs, blocking = executor.call("block", candidate_pairs, f=frame, max_block=config.linkage.max_block)
            gamma = _compare(executor, progress, log, frame, pairs, execution.pair_chunk)
        trained = executor.call("train", trained_model, frame=frame, pairs=pairs, gamma=gamma, registry_apart=blocking.registry_apart,
                                config=config)
        summary = {"mode": "full", **({"incremental_fallback": fallback} if fallback else {})}
    else:
        clock = _Clock()
        old = base.state.keys()
        changes = incremental.diff(old, run_records.keys, digest, record_sources, old["source"].to_numpy(dtype=object))
        del old
        clock("diff")
        with progress.watch("blocking"):
            pairs, blocking = executor.call("block", candidate_pairs, f=frame, max_block=config.linkage.max_block)
        clock("blocking")
        gamma, known = incremental.known_levels(pairs, base.state.pairs(), changes.new_of_old, frame.n)
        log.info("  %s records new or changed; %s of %s candidate pairs compared before", f"{int(changes.touched.sum()):,}",
                 f"{int(known.sum()):,}", f"{len(pairs):,}")
        gamma[~known] = _compare(executor, progress, log, frame, pairs[~known], execution.pair_chunk)
        clock("levels reused, the rest compared")
        why = incremental.retrain_reason(mode.retrain, changes.new_share, config.linkage.incremental_retrain_share)
        if why:
            log.info("  incremental: retraining the model (%s)", why)
        trained = executor.call("train", trained_model, frame=frame, pairs=pairs, gamma=gamma, registry_apart=blocking.registry_apart,
                                config=config, reuse_u=None if why else incremental.previous_model(base.state))
        clock("train")
        summary = {"mode": "incremental", "incremental_from": base.state.run_id, "incremental": {
            "sources": changes.counts,
            "sources_read": [s.name for s in config.sources if s.name not in base.unchanged],
            "pairs": {"reused": int(known.sum()), "compared": int((~known).sum())},
            "model": f"retrained ({why})" if why else "u reused, m and prior learned",
            "link_s": clock.seconds,
        }}
    meta = {"run_id": run.run_id, "linkage_fingerprint": linkage_fingerprint(config), "records": int(frame.n),
            "sources": [source_entry(src, s, p) for src, s, p in zip(config.sources, sources, parts_per_source)]}
    writing = time.perf_counter()
    executor.call("state", write_state, io=True, state_dir=state_dir, meta=meta, keys=run_records.keys, digest=digest, pairs=pairs,
                  gamma=gamma, model=trained, sources=record_sources)
    summary["state"] = {"version": STATE_VERSION, "keys_pairs_model_write_s": round(time.perf_counter() - writing, 2)}
    # what the analysts' labels teach (the state keeps the model without it)
    lk = config.linkage
    model = learn(trained, frame, labelled_pairs(must, cannot), lk.match_threshold) if lk.learn_from_decisions else trained
    chunks = pair_chunks(pairs, execution.pair_chunk, at_least=os.cpu_count() or 1)
    offsets = np.cumsum([0] + [len(c) for c in chunks])
    scored = executor.map(
        "score", score_candidates, {"pairs": chunks, "gamma": [gamma[a:b] for a, b in zip(offsets[:-1], offsets[1:])]},
        {"f": frame, "model": model, "tf": link_term_frequencies(frame)},
    )
    links = Links(frame, pd.concat(scored, ignore_index=True), model, blocking)
    del pairs, chunks, gamma, scored

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
    manifest.update(summary)
    log.info("  conflicts: %s", ", ".join(f"{k} {v:,}" for k, v in manifest["conflicts"].items() if v) or "none")

    stage("publish", str(run.final))
    manifest["stages_s"] = stage.seconds  # the stages before publishing; the manifest is written by it
    with progress.watch("writing the outputs"):
        executor.call("publish", write_run, io=True, folder=folder, outputs=outputs, manifest=manifest, publish=config.publish,
                      key_dir=run.runs)
    stage.done()
    return manifest


def _read_sources(executor: Executor, log: logging.Logger, progress: Progress, config: MergeConfig, work: Path, state_dir: Path,
                  base: incremental.Plan | None) -> tuple[list, list, list, list, list[int]]:
    """Every source's parts, rejects and family-card numbers, in the config's order: read and
    normalised (and kept in this run's state), or restored from the latest run's state when the
    source is unchanged (an incremental run). Also returns how many parts each source has."""
    execution = config.execution
    reused = base.unchanged if base else {}
    to_read = [s for s in config.sources if s.name not in reused]
    # Sources are read in parallel, each a slice at a time (CSV streamed) into raw slice files;
    # the slices are then normalised in parallel into parts. A read error surfaces here as itself.
    with progress.watch("reading", work / "raw", "*/*.pkl", None, f"slices (of up to {execution.partition_rows:,} rows)"):
        reads = executor.map(
            "read", read_to_slices,
            {"src": to_read, "folder": [work / "raw" / f"{i:03d}" for i in range(len(to_read))]},
            {"rows": execution.partition_rows}, io=True,
        )
    raw = [path for _, paths in reads for path in paths]
    keep = [kept_part(state_dir, read.source.name, k) for read, paths in reads for k in range(len(paths))]
    with progress.watch("normalising", work / "parts", "*.pkl", len(raw), "slices"):
        spilled = iter(executor.map(
            "normalise", normalise_and_keep, {"raw": raw, "path": [work / "parts" / f"{i:05d}.pkl" for i in range(len(raw))], "keep": keep}
        ))
    kept = [(name, k) for name, entry in reused.items() for k in range(entry["parts"])]
    restored = iter(executor.map(
        "restore", restore_part,
        {"kept": [kept_part(base.state.folder, n, k) for n, k in kept] if base else [], "source": [n for n, _ in kept],
         "path": [work / "parts" / f"r{i:05d}.pkl" for i in range(len(kept))], "keep": [kept_part(state_dir, n, k) for n, k in kept]},
        io=True,
    ))
    by_name = {read.source.name: (read, paths) for read, paths in reads}
    sources, parts, kks, rejects, counts = [], [], [], [], []
    for src in config.sources:
        if src.name in reused:
            mine = [next(restored) for _ in range(reused[src.name]["parts"])]
            source = restored_source(reused[src.name], read_frame(rejects_path(base.state.folder, src.name)))
            log.info("  %s: unchanged since run %s, %s records restored, not read", src.name, base.state.run_id, f"{source.accepted:,}")
        else:
            read, paths = by_name[src.name]
            mine = [next(spilled) for _ in paths]
            source = gather_source(read, [(s.part.n, s.rejects) for s in mine])
            acc = source.accounting()
            log.info("  %s: %s rows read, %s accepted, %s rejected", source.name, f"{acc['rows_read']:,}", f"{acc['accepted']:,}", f"{acc['rejected']:,}")
            for entry in source.files:
                for line in (m for messages in file_messages(source.name, entry) for m in messages):
                    log.warning("  %s", line)
        write_frame(source.rejects, rejects_path(state_dir, src.name))
        sources.append(source)
        parts += [s.part for s in mine]
        kks += [s.kks for s in mine]
        rejects.append(source.rejects)
        counts.append(len(mine))
    return sources, parts, kks, rejects, counts


def _compare(executor: Executor, progress: Progress, log: logging.Logger, frame: LinkFrame, pairs: pd.DataFrame, chunk: int) -> np.ndarray:
    """The comparison levels of `pairs`, compared in chunks in parallel."""
    chunks = pair_chunks(pairs, chunk, at_least=os.cpu_count() or 1)
    log.info("  %s candidate pairs in %d chunks", f"{len(pairs):,}", len(chunks))
    with progress.watch("comparing"):
        gammas = executor.map("compare", compare_chunk, {"pairs": chunks}, {"f": frame})
    return np.concatenate(gammas)


def trained_model(frame: LinkFrame, pairs: pd.DataFrame, gamma: np.ndarray, registry_apart: int, config: MergeConfig,
                  reuse_u: FSModel | None = None) -> FSModel:
    """The run's model before the analysts' labels: trained (with `reuse_u`'s u: an incremental
    run's), or the configured one."""
    lk = config.linkage
    return FSModel.load(Path(lk.model_path)) if lk.model_path else train(frame, pairs, gamma, lk.seed, registry_apart, reuse_u)


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


class _Clock:
    """Seconds of the steps within a stage, for the manifest: each call ends a step."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._at = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(now - self._at, 2)
        self._at = now


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
