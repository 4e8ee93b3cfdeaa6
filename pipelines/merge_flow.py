"""The merge as a Prefect flow: the library's run driver with its steps as Prefect tasks.

Task names and parameters carry source names and counts only, never personal data; task
results are not persisted (they hold personal data) and not cached.
"""

from __future__ import annotations

import pipelines  # noqa: F401  (configures Prefect before it is imported)

import contextlib
import logging
import os
from asyncio import CancelledError  # what a cancelled Dask future raises (a BaseException)
from dataclasses import dataclass
from pathlib import Path

import httpx
from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.exceptions import PrefectException, TerminationSignal
from prefect.task_runners import ThreadPoolTaskRunner

from bansos_merge.config import load_config
from bansos_merge.errors import RunFailed, Terminated, UserError
from bansos_merge.publish.run_folder import RUNS, new_run_id, published
from bansos_merge.publish.summary import run_summary_markdown
from bansos_merge.run.driver import run


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
# Task-run names: a source's name or a partition's number, never personal data.
_RUN_NAMES = {"read": "read-{src.name}", "assemble": "assemble-{k}"}


class PrefectExecutor:
    """The driver's steps as Prefect tasks, a task per stage (bansos_merge.run.executor):
    mapped on the flow's task runner (threads, or Dask through prefect-dask). Task results are
    not persisted (they hold personal data) and not cached; I/O steps retry an OSError."""

    def _task(self, stage: str, fn, io: bool):
        return task(fn, name=stage, task_run_name=_RUN_NAMES.get(stage), **(_IO_TASK if io else _TASK))

    def map(self, stage: str, fn, mapped: dict, shared: dict | None = None, io: bool = False) -> list:
        if not mapped or not len(next(iter(mapped.values()))):
            return []
        futures = self._task(stage, fn, io).map(**mapped, **{k: unmapped(v) for k, v in (shared or {}).items()})
        try:
            return futures.result()
        except BaseException:
            _stop_tasks(futures)  # before the driver removes the folder they write into
            raise

    def call(self, stage: str, fn, io: bool = False, **kwargs):
        return self._task(stage, fn, io)(**kwargs)

    def cluster(self) -> contextlib.AbstractContextManager:
        """A client of the flow's Dask cluster (prefect-dask), or None on threads."""
        runner = getattr(FlowRunContext.get(), "task_runner", None)
        if type(runner).__name__ != "DaskTaskRunner":
            return contextlib.nullcontext()
        from prefect_dask import get_dask_client

        return get_dask_client()


def _stop_tasks(futures: list) -> None:
    """Cancel the stage's tasks that have not started and wait for those that have: after a
    failure or an interruption (Ctrl-C, SIGTERM) the driver removes the run's work folder, and
    a task still writing into it would fail with a traceback of its own. Their outcomes do not
    matter any more; the error being raised does."""
    for future in futures:
        with contextlib.suppress(Exception):
            future.wrapped_future.cancel()
    for future in futures:
        with contextlib.suppress(Exception, CancelledError):
            future.wait()


# As many task threads as cores: the tasks are CPU-bound pandas/numpy, and more threads than
# cores only contend for the GIL.
@flow(
    name="bansos-merge",
    log_prints=False,
    validate_parameters=False,
    task_runner=ThreadPoolTaskRunner(max_workers=os.cpu_count()),
)
def merge(config_path: str, output_dir: str | None = None, allow_shrink: bool = False, run_id: str | None = None,
          incremental: bool = False, retrain: bool = False) -> str:
    """The merge (bansos_merge.run.driver) as a Prefect flow, a task per stage; returns the run
    folder and leaves a Markdown artifact with the run's counts. `incremental`/`retrain`: as
    `bansos-merge run --incremental/--retrain`."""
    log = get_run_logger()
    final, manifest = run(config_path, output_dir, PrefectExecutor(), log, allow_shrink, run_id, incremental=incremental, retrain=retrain)
    create_markdown_artifact(run_summary_markdown(manifest), key="bansos-merge-run", description="bansos-merge run summary")
    return str(final)


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
    incremental: bool = False,
    retrain: bool = False,
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
        state = flow_(str(config_path), None if output_dir is None else str(output_dir), allow_shrink, run_id, incremental, retrain,
                      return_state=True)
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
