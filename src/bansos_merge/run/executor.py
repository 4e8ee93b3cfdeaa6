"""Who runs a run's steps: an executor maps a library function over a stage's units of work.

The driver (run/driver.py) only ever asks an executor to `map` a function over some units, or
to `call` it once, naming the stage. `LocalExecutor` runs them on threads of this process;
`pipelines/merge_flow.py` runs the same calls as Prefect tasks (and on Dask through it). Units
are given by keyword: `mapped` holds one list per argument, `shared` the arguments every unit
gets.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from ..errors import UserError

IO_RETRIES = 2
IO_RETRY_DELAY_S = 2.0


class Executor(Protocol):
    def map(self, stage: str, fn: Callable, mapped: dict[str, Sequence], shared: dict[str, Any] | None = None, io: bool = False) -> list:
        """fn over the units, results in the units' order; `io`: retry an OSError."""

    def call(self, stage: str, fn: Callable, io: bool = False, **kwargs: Any) -> Any:
        """fn once."""

    def cluster(self) -> AbstractContextManager:
        """A Dask client of the cluster the steps run on (the sharded linkage runs on it,
        run/sharded_link.py), or None: no cluster, everything runs here."""


def units(mapped: dict[str, Sequence]) -> list[dict[str, Any]]:
    """The keyword arguments of each unit."""
    lengths = {len(v) for v in mapped.values()}
    if len(lengths) > 1:
        raise ValueError(f"mapped arguments of different lengths: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    return [{k: v[i] for k, v in mapped.items()} for i in range(n)]


def with_retries(fn: Callable, io: bool) -> Callable:
    """fn, retried on an OSError (a file briefly locked, a share dropping) when it does I/O;
    nothing else fixes itself."""
    if not io:
        return fn

    def retried(**kwargs: Any) -> Any:
        for attempt in range(IO_RETRIES + 1):
            try:
                return fn(**kwargs)
            except UserError:
                raise
            except OSError:
                if attempt == IO_RETRIES:
                    raise
                time.sleep(IO_RETRY_DELAY_S)

    return retried


class LocalExecutor:
    """Threads of this process, one per core by default: the steps are numpy, pandas and Arrow
    work that runs largely outside the GIL, and more threads than cores only contend for it.
    The first failure, or an interruption (Ctrl-C, SIGTERM), cancels what has not started and
    waits for what has, before it is raised as itself: the caller then removes the run's folder
    with nothing still writing into it."""

    def __init__(self, workers: int | None = None) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1, thread_name_prefix="bansos-merge")

    def map(self, stage: str, fn: Callable, mapped: dict[str, Sequence], shared: dict[str, Any] | None = None, io: bool = False) -> list:
        run = with_retries(fn, io)
        futures = [self.pool.submit(run, **unit, **(shared or {})) for unit in units(mapped)]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in futures if f in done and f.exception() is not None), None)
            if failed is not None:
                raise failed.exception()
        except BaseException:
            for f in futures:
                f.cancel()
            wait(futures)
            raise
        return [f.result() for f in futures]

    def call(self, stage: str, fn: Callable, io: bool = False, **kwargs: Any) -> Any:
        return with_retries(fn, io)(**kwargs)

    def cluster(self) -> AbstractContextManager:
        return nullcontext()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
