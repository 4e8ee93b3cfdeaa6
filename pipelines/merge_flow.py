"""The merge as a Prefect flow: a task per stage, wiring library functions together.

Task names and parameters carry source names and counts only, never personal data; task
results are not persisted (they hold personal data) and not cached.
"""

from __future__ import annotations

import pipelines  # noqa: F401  (configures Prefect before it is imported)

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import httpx
from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import PrefectException, TerminationSignal
from prefect.task_runners import ThreadPoolTaskRunner

import numpy as np
import pandas as pd

from bansos_merge.cluster.resolve import Resolution, resolve_with
from bansos_merge.config import MergeConfig, SourceConfig, load_config
from bansos_merge.errors import RunFailed, Terminated, UserError
from bansos_merge.ingest.check import file_messages
from bansos_merge.ingest.source import SourceRead, preflight
from bansos_merge.link.blocking import BlockingReport, candidate_pairs
from bansos_merge.link.features import LinkFrame
from bansos_merge.link.linker import Links, compare_chunk, labelled_pairs, learn, pair_chunks, score_candidates, train
from bansos_merge.link.model import FSModel, link_term_frequencies
from bansos_merge.normalize.source import gather_source
from bansos_merge.parts import (
    Part,
    PartitionResult,
    PartView,
    SpilledPart,
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
from bansos_merge.publish.manifest import now_utc
from bansos_merge.publish.outputs import ORDER, RunOutputs, history_so_far, run_manifest, write_run
from bansos_merge.publish.previous import PreviousRun, load_previous, previous_manifest
from bansos_merge.publish.registry import person_codes
from bansos_merge.publish.run_folder import RUNS, RunFolder, new_run_id, published
from bansos_merge.publish.shrink import shrink_message, shrink_problems
from bansos_merge.publish.summary import run_summary_markdown
from bansos_merge.review.decisions import load_decisions


class _HideUserErrorTraceback(logging.Filter):
    """A user error (bad file, bad config) or a lost Prefect API is logged as its message;
    tracebacks are for bugs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], (UserError, httpx.TransportError)):
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
def read_task(src: SourceConfig, folder: Path, rows: int) -> tuple[SourceRead, list[Path]]:
    return read_to_slices(src, rows, folder)


@task(name="normalise", **_TASK)
def normalise_task(raw: Path, path: Path) -> SpilledPart:
    return normalise_to_part(raw, path)


@task(name="prepare", **_TASK)
def prepare_task(part: Part, kks: pd.Series, sources_with_ids: set[str], decision_keys: set[str]) -> PartView:
    return prepare_part(part, kks, sources_with_ids, decision_keys)


@task(name="block", **_TASK)
def block_task(frame: LinkFrame, max_block: int) -> tuple[pd.DataFrame, BlockingReport]:
    return candidate_pairs(frame, max_block)


@task(name="compare", **_TASK)
def compare_task(frame: LinkFrame, pairs: pd.DataFrame) -> np.ndarray:
    return compare_chunk(frame, pairs)


@task(name="train", **_TASK)
def train_task(
    frame: LinkFrame, pairs: pd.DataFrame, gamma: np.ndarray, registry_apart: int, config: MergeConfig, labels: pd.DataFrame
) -> FSModel:
    lk = config.linkage
    model = FSModel.load(Path(lk.model_path)) if lk.model_path else train(frame, pairs, gamma, lk.seed, registry_apart)
    return learn(model, frame, labels, lk.match_threshold) if lk.learn_from_decisions else model


@task(name="score", **_TASK)
def score_task(frame: LinkFrame, pairs: pd.DataFrame, gamma: np.ndarray, model: FSModel, tf: dict) -> pd.DataFrame:
    return score_candidates(frame, pairs, model, gamma, tf)


@task(name="cluster", **_TASK)
def cluster_task(
    keys: pd.Series,
    links: Links,
    config: MergeConfig,
    run_id: str,
    previous: PreviousRun | None,
    must: pd.DataFrame,
    cannot: pd.DataFrame,
) -> Resolution:
    return resolve_with(
        config,
        None,
        links,
        run_id,
        previous.records if previous else None,
        previous.known_ids if previous else set(),
        must,
        cannot,
        keys=keys,
    )


@task(name="shuffle", **_IO_TASK)
def shuffle_task(part: Part, offset: int, partition: np.ndarray, person_id: np.ndarray, link_score: np.ndarray, folder: Path, index: int) -> dict[int, Path]:
    return shuffle_part(part, offset, partition, person_id, link_score, folder, index)


@task(name="assemble", task_run_name="assemble-{k}", **_TASK)
def assemble_task(pieces: list[Path], review: pd.DataFrame, as_of: dict, civil_registry: bool, out: Path, k: int) -> PartitionResult:
    return assemble_partition(pieces, review, as_of, civil_registry, out, k)


@task(name="publish", **_IO_TASK)
def publish_task(folder: Path, config: MergeConfig, outputs: RunOutputs, manifest: dict) -> None:
    write_run(folder, outputs, manifest, config.publish)


# As many task threads as cores: the tasks are CPU-bound pandas/numpy, and more threads than
# cores only contend for the GIL.
@flow(
    name="bansos-merge",
    log_prints=False,
    validate_parameters=False,
    task_runner=ThreadPoolTaskRunner(max_workers=os.cpu_count()),
)
def merge(config_path: str, output_dir: str | None = None, allow_shrink: bool = False, run_id: str | None = None) -> str:
    """Read every source, normalise, link, cluster, publish a run; returns the run folder.

    Normalised records are written to parts in the run's partial folder and read back a part
    or a partition at a time (see bansos_merge.parts); the driver holds compact arrays only.
    A failure or Ctrl-C anywhere removes the partial folder: no half run is published. A run
    whose sources shrank since the previous one stops, unless `allow_shrink`.
    """
    log = get_run_logger()
    started = now_utc()
    config = load_config(config_path, output_dir)
    preflight(config)
    run = RunFolder(Path(config.output_dir), run_id)
    folder = run.start()
    try:
        run_dir = _merge(log, started, config, config_path, run, folder, allow_shrink)
    except BaseException:
        run.abandon()
        raise
    create_markdown_artifact(run_summary_markdown(run_dir[1]), key="bansos-merge-run", description="bansos-merge run summary")
    log.info("run published: %s", run_dir[0])
    return run_dir[0]


def _merge(
    log, started: str, config: MergeConfig, config_path: str, run: RunFolder, folder: Path, allow_shrink: bool
) -> tuple[str, dict]:
    work = run.work
    (work / "raw").mkdir(mode=0o700)
    (work / "parts").mkdir(mode=0o700)
    (work / "shuffle").mkdir(mode=0o700)
    for out in ("records", "registry", "conflicts", "review"):
        (work / out).mkdir(mode=0o700)
    stage = _Stages(log, 5)
    execution = config.execution
    sources_with_ids = {s.name for s in config.sources if s.id_column}

    stage("read and normalise", f"{len(config.sources)} sources")
    # Sources are read in parallel, each a slice at a time (CSV streamed) into raw slice files;
    # the slices are then normalised in parallel into parts. A read error surfaces here as itself.
    reads = [read_task.submit(src, work / "raw" / f"{i:03d}", execution.partition_rows) for i, src in enumerate(config.sources)]
    reads = [f.result() for f in reads]
    raw = [path for _, paths in reads for path in paths]
    spilled = iter(normalise_task.map(raw, [work / "parts" / f"{i:05d}.pkl" for i in range(len(raw))]).result())
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
    offsets = np.cumsum([0] + [p.n for p in parts])

    stage("link", f"{sum(p.n for p in parts):,} records")
    decisions = load_decisions(config.state_path)
    views = prepare_task.map(parts, unmapped(kks), unmapped(sources_with_ids), unmapped(decision_keys(decisions))).result()
    run_records = stack_views(parts, views)
    frame = run_records.frame
    del views, kks
    must, cannot, decided = decision_constraints(decisions, run_records.named)
    pairs, blocking = block_task(frame, config.linkage.max_block)
    chunks = pair_chunks(pairs, execution.pair_chunk, at_least=os.cpu_count() or 1)
    log.info("  %s candidate pairs in %d chunks", f"{len(pairs):,}", len(chunks))
    gammas = compare_task.map(unmapped(frame), chunks).result()
    model = train_task(frame, pairs, np.concatenate(gammas), blocking.registry_apart, config, labelled_pairs(must, cannot))
    scored = score_task.map(unmapped(frame), chunks, gammas, unmapped(model), unmapped(link_term_frequencies(frame)))
    links = Links(frame, pd.concat(scored.result(), ignore_index=True), model, blocking)
    del pairs, chunks, gammas, scored

    stage("cluster", "persons and stable IDs, with the analysts' decisions")
    previous = load_previous(Path(config.output_dir))
    log.info(
        "  analysts' decisions: %d same person, %d different people applied; %d no longer apply (records changed)",
        decided["applied_same"], decided["applied_different"], decided["stale_count"],
    )
    resolution = cluster_task(run_records.keys, links, config, run.run_id, previous, must, cannot)
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
    shuffled = shuffle_task.map(
        parts,
        list(offsets[:-1]),
        per_part(plan, offsets),
        per_part(resolution.person_id, offsets),
        per_part(resolution.link_score, offsets),
        unmapped(work / "shuffle"),
        list(range(len(parts))),
    ).result()
    results = assemble_task.map(
        [[s[k] for s in shuffled if k in s] for k in range(count)],
        [review[plan[left] == k] for k in range(count)],
        unmapped({s.name: s.as_of for s in sources}),
        unmapped(any(s.kind == "civil_registry" and s.accepted for s in sources)),
        unmapped(work),
        list(range(count)),
    ).result()
    outputs = gather_partitions(results, work, rejects, history_so_far(resolution, previous), model, config.publish.workbook_rows_per_kind)
    manifest = run_manifest(run.run_id, started, config, config_path, sources, blocking, resolution, outputs, decided)
    manifest["decisions"] = decided
    manifest["execution"] = {"parts": len(parts), "person_partitions": count}
    manifest["shrink_guard"] = {"allow_shrink": allow_shrink, "overridden": shrunk}
    log.info("  conflicts: %s", ", ".join(f"{k} {v:,}" for k, v in manifest["conflicts"].items() if v) or "none")

    stage("publish", str(run.final))
    publish_task(folder, config, outputs, manifest)
    return str(run.commit(keep=config.publish.keep_runs)), manifest


def _shrink_guard(log, output_dir: Path, sources: list, allow_shrink: bool) -> list[str]:
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
    """Numbered stage lines on the console, so a long run shows where it is."""

    def __init__(self, log, total: int) -> None:
        self.log, self.total, self.n = log, total, 0

    def __call__(self, name: str, detail: str) -> None:
        self.n += 1
        self.log.info("[%d/%d] %s: %s", self.n, self.total, name, detail)


@dataclass(frozen=True)
class RunOutcome:
    """A published run, and the error that came after publishing, if any (Prefect failing to
    record the run's end, Ctrl-C a moment too late): the run stands, and is reported as such."""

    run_dir: Path
    late_error: BaseException | None = None


def run_merge(
    config_path: str,
    output_dir: str | None = None,
    dask_address: str | None = None,
    dask_workers: int | None = None,
    allow_shrink: bool = False,
    run_id: str | None = None,
) -> RunOutcome:
    """Run the flow and report what it published, whatever Prefect says afterwards.

    The outcome is decided by the output directory: `latest` pointing at this run's folder is a
    published run (a late failure talking to Prefect cannot undo it); anything else is a failed
    run, which published nothing. A user error or an interruption comes back out as itself,
    any other failure as one RunFailed. With `dask_address` (an existing cluster) or
    `dask_workers` (a local cluster of that many worker processes) the mapped tasks run on
    Dask through prefect-dask.
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
    output = Path(load_config(config_path, output_dir).output_dir)
    run_id = run_id or new_run_id()
    error: BaseException | None = None
    try:
        state = flow_(str(config_path), None if output_dir is None else str(output_dir), allow_shrink, run_id, return_state=True)
        if not state.is_completed():
            result = state.result(raise_on_failure=False)
            error = result if isinstance(result, BaseException) else RuntimeError(f"the flow ended {state.type.value}: {state.message}")
    except BaseException as e:  # noqa: BLE001  (sorted out below, by what was published)
        error = e
    if published(output, run_id):
        return RunOutcome(output / RUNS / run_id, error)
    if error is None:
        error = RuntimeError("the flow ended without publishing its run")
    if isinstance(error, TerminationSignal):
        raise Terminated() from None
    if isinstance(error, (UserError, KeyboardInterrupt, RunFailed)):
        raise error
    raise RunFailed(f"the run failed ({describe_failure(error)}); nothing was published") from error


def describe_failure(error: BaseException) -> str:
    """One line about a failure that is not the user's. Prefect's and the network's messages
    are shown; another exception's message could quote a value, so only its type is (its
    traceback is in the flow's log)."""
    if isinstance(error, (httpx.HTTPError, PrefectException)) or _raised_in_prefect(error):
        api = os.environ.get("PREFECT_API_URL")
        return f"talking to the Prefect API{f' {api}' if api else ''}: {type(error).__name__}: {str(error)[:300]}"
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {error}"
    return f"{type(error).__name__}; its traceback is in the log above"


def _raised_in_prefect(error: BaseException) -> bool:
    """Raised by Prefect's own code (e.g. its RuntimeError "Failed to reach API")."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and (tb.tb_frame.f_globals.get("__name__") or "").startswith("prefect.")
