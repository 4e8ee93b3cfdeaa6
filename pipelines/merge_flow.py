"""The merge as a Prefect flow: a task per stage, wiring library functions together.

Task names and parameters carry source names and counts only, never personal data; task
results are not persisted (they hold personal data) and not cached.
"""

from __future__ import annotations

import pipelines  # noqa: F401  (configures Prefect before it is imported)

import logging
import os
from pathlib import Path

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

import numpy as np
import pandas as pd

from bansos_merge.cluster.resolve import Resolution, resolve_with
from bansos_merge.config import MergeConfig, SourceConfig, load_config
from bansos_merge.errors import UserError
from bansos_merge.ingest.source import SourceRead, preflight, read_source
from bansos_merge.link.blocking import BlockingReport
from bansos_merge.link.features import LinkFrame
from bansos_merge.link.linker import Links, block, compare_chunk, pair_chunks, score_candidates
from bansos_merge.link.model import FSModel, link_term_frequencies, train_model
from bansos_merge.normalize.source import TablePart, gather_source, normalize_part, split_source
from bansos_merge.publish.manifest import now_utc
from bansos_merge.publish.outputs import RunOutputs, assemble, combine, run_manifest, write_run
from bansos_merge.publish.previous import PreviousRun, load_previous
from bansos_merge.publish.run_folder import RunFolder
from bansos_merge.publish.summary import run_summary_markdown
from bansos_merge.review.decisions import constraints, load_decisions



class _HideUserErrorTraceback(logging.Filter):
    """A user error (bad file, bad config) is logged as its message; tracebacks are for bugs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], UserError):
            record.exc_info, record.exc_text = None, None
        return True


def _install_log_filter() -> None:
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict) if n.startswith("prefect")]
    for handler in {h for lg in loggers for h in lg.handlers}:
        handler.addFilter(_HideUserErrorTraceback())


_install_log_filter()


def _retry_on_os_error(task, task_run, state) -> bool:
    """Retry I/O hiccups (a file briefly locked, a share dropping); nothing else fixes itself."""
    try:
        state.result()
    except UserError:
        return False
    except OSError:
        return True
    except Exception:
        return False
    return False


_TASK = dict(cache_policy=NO_CACHE, persist_result=False)
_IO_TASK = dict(_TASK, retries=2, retry_delay_seconds=2, retry_condition_fn=_retry_on_os_error)


@task(name="read", task_run_name="read-{src.name}", **_IO_TASK)
def read_task(src: SourceConfig) -> SourceRead:
    return read_source(src)


@task(name="normalise", **_TASK)
def normalise_task(part: TablePart) -> tuple[pd.DataFrame, pd.DataFrame]:
    return normalize_part(part)


@task(name="block", **_TASK)
def block_task(records: pd.DataFrame, max_block: int) -> tuple[LinkFrame, pd.DataFrame, BlockingReport]:
    return block(records, max_block)


@task(name="compare", **_TASK)
def compare_task(frame: LinkFrame, pairs: pd.DataFrame) -> np.ndarray:
    return compare_chunk(frame, pairs)


@task(name="train", **_TASK)
def train_task(frame: LinkFrame, gamma: np.ndarray, registry_apart: int, config: MergeConfig) -> FSModel:
    if config.linkage.model_path:
        return FSModel.load(Path(config.linkage.model_path))
    return train_model(frame, gamma, config.linkage.seed, registry_apart)


@task(name="score", **_TASK)
def score_task(frame: LinkFrame, pairs: pd.DataFrame, gamma: np.ndarray, model: FSModel, tf: dict) -> pd.DataFrame:
    return score_candidates(frame, pairs, model, gamma, tf)


@task(name="cluster", **_TASK)
def cluster_task(
    records: pd.DataFrame,
    links: Links,
    config: MergeConfig,
    run_id: str,
    previous: PreviousRun | None,
    must: pd.DataFrame,
    cannot: pd.DataFrame,
) -> Resolution:
    return resolve_with(
        config,
        records,
        links,
        run_id,
        previous.records if previous else None,
        previous.known_ids if previous else set(),
        must,
        cannot,
    )


@task(name="assemble", **_TASK)
def assemble_task(sources, records, rejects, links, resolution, previous) -> RunOutputs:
    return assemble(sources, records, rejects, links, resolution, previous)


@task(name="publish", **_IO_TASK)
def publish_task(run: RunFolder, config: MergeConfig, outputs: RunOutputs, manifest: dict) -> str:
    folder = run.start()
    try:
        write_run(folder, outputs, manifest, config.publish)
    except BaseException:
        run.abandon()
        raise
    return str(run.commit(keep=config.publish.keep_runs))


# As many task threads as cores: the tasks are CPU-bound pandas/numpy, and more threads than
# cores only contend for the GIL.
@flow(
    name="bansos-merge",
    log_prints=False,
    validate_parameters=False,
    task_runner=ThreadPoolTaskRunner(max_workers=os.cpu_count()),
)
def merge(config_path: str, output_dir: str | None = None) -> str:
    """Read every source, normalise, link, cluster, publish a run; returns the run folder."""
    log = get_run_logger()
    started = now_utc()
    config = load_config(config_path, output_dir)
    preflight(config)
    run = RunFolder(Path(config.output_dir))
    stage = _Stages(log, 5)

    stage("read and normalise", f"{len(config.sources)} sources")
    # A read error surfaces here as itself, before any normalising.
    reads = [f.result() for f in [read_task.submit(src) for src in config.sources]]
    parts = [split_source(r, config.execution.partition_rows) for r in reads]
    futures = normalise_task.map([p for source_parts in parts for p in source_parts])
    results = iter(futures.result())
    sources = [gather_source(r, [next(results) for _ in source_parts]) for r, source_parts in zip(reads, parts)]
    del reads, parts, futures, results  # the raw tables: as large as the records, and done with
    for s in sources:
        acc = s.accounting()
        log.info("  %s: %s rows read, %s accepted, %s rejected", s.name, f"{acc['rows_read']:,}", f"{acc['accepted']:,}", f"{acc['rejected']:,}")
    records, rejects = combine(sources)

    stage("link", f"{len(records):,} records")
    frame, pairs, blocking = block_task(records, config.linkage.max_block)
    chunks = pair_chunks(pairs, config.execution.pair_chunk, at_least=os.cpu_count() or 1)
    log.info("  %s candidate pairs in %d chunks", f"{len(pairs):,}", len(chunks))
    gammas = compare_task.map(unmapped(frame), chunks).result()
    model = train_task(frame, np.concatenate(gammas), blocking.registry_apart, config)
    scored = score_task.map(unmapped(frame), chunks, gammas, unmapped(model), unmapped(link_term_frequencies(frame)))
    links = Links(frame, pd.concat(scored.result(), ignore_index=True), model, blocking)
    del pairs, chunks, gammas, scored

    stage("cluster", "persons and stable IDs, with the analysts' decisions")
    previous = load_previous(Path(config.output_dir))
    must, cannot, decisions = constraints(load_decisions(config.state_path), records)
    log.info(
        "  analysts' decisions: %d same person, %d different people applied; %d no longer apply (records changed)",
        decisions["applied_same"], decisions["applied_different"], decisions["stale_count"],
    )
    resolution = cluster_task(records, links, config, run.run_id, previous, must, cannot)
    log.info("  %s persons, %s pairs for review", f"{resolution.counts['persons']:,}", f"{resolution.counts['review_pairs']:,}")

    stage("assemble", "registry and conflicts")
    outputs = assemble_task(sources, records, rejects, links, resolution, previous)
    manifest = run_manifest(run.run_id, started, config, config_path, sources, links, resolution, outputs)
    manifest["decisions"] = decisions
    log.info("  conflicts: %s", ", ".join(f"{k} {v:,}" for k, v in manifest["conflicts"].items() if v) or "none")

    stage("publish", str(run.final))
    run_dir = publish_task(run, config, outputs, manifest)
    create_markdown_artifact(run_summary_markdown(manifest), key="bansos-merge-run", description="bansos-merge run summary")
    log.info("run published: %s", run_dir)
    return run_dir


class _Stages:
    """Numbered stage lines on the console, so a long run shows where it is."""

    def __init__(self, log, total: int) -> None:
        self.log, self.total, self.n = log, total, 0

    def __call__(self, name: str, detail: str) -> None:
        self.n += 1
        self.log.info("[%d/%d] %s: %s", self.n, self.total, name, detail)


def run_merge(
    config_path: str, output_dir: str | None = None, dask_address: str | None = None, dask_workers: int | None = None
) -> str:
    """Run the flow; a user error inside it comes back out as that error, not a Prefect crash.

    With `dask_address` (an existing cluster) or `dask_workers` (a local cluster of that many
    worker processes) the mapped tasks run on Dask through prefect-dask.
    """
    flow_ = merge
    if dask_address or dask_workers:
        from prefect_dask import DaskTaskRunner

        runner = (
            DaskTaskRunner(address=dask_address)
            if dask_address
            else DaskTaskRunner(cluster_kwargs={"n_workers": dask_workers, "threads_per_worker": 1, "processes": True})
        )
        flow_ = merge.with_options(task_runner=runner)
    state = flow_(str(config_path), None if output_dir is None else str(output_dir), return_state=True)
    if state.is_completed():
        return state.result()
    error = state.result(raise_on_failure=False)
    if isinstance(error, BaseException):
        raise error
    raise RuntimeError(f"merge flow ended {state.type.value}: {state.message}")
