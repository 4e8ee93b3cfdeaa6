"""The local executor the CLI runs a merge on (no Prefect): order, failures, I/O retries."""

from __future__ import annotations

import threading
import time

import pytest

from bansos_merge.errors import UserError
from bansos_merge.run import executor as ex
from bansos_merge.run.executor import LocalExecutor, units


def test_units_are_the_keywords_of_each_call():
    assert units({"a": [1, 2], "b": ["x", "y"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert units({}) == []
    with pytest.raises(ValueError):
        units({"a": [1], "b": [1, 2]})


def test_map_keeps_the_units_order_and_shares_the_rest():
    def slow_then_fast(i: int, scale: int) -> int:
        time.sleep(0.05 * (3 - i))
        return i * scale

    with LocalExecutor(workers=3) as pool:
        assert pool.map("stage", slow_then_fast, {"i": [0, 1, 2]}, {"scale": 10}) == [0, 10, 20]
        assert pool.call("stage", slow_then_fast, i=2, scale=1) == 2


def test_the_first_failure_is_raised_as_itself_and_the_rest_is_cancelled():
    started = []

    def work(i: int) -> int:
        started.append(i)
        if i == 0:
            raise UserError("source 'x': bad file")
        time.sleep(0.2)
        return i

    with LocalExecutor(workers=1) as pool:
        with pytest.raises(UserError, match="bad file"):
            pool.map("stage", work, {"i": list(range(5))})
    assert started == [0]  # one worker: nothing after the failure started


def test_io_steps_retry_an_os_error_and_nothing_else(monkeypatch):
    monkeypatch.setattr(ex, "IO_RETRY_DELAY_S", 0.0)
    calls = {"flaky": 0, "user": 0}

    def flaky() -> str:
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            raise OSError("the share dropped")
        return "read"

    def user() -> None:
        calls["user"] += 1
        raise UserError("wrong column")

    with LocalExecutor() as pool:
        assert pool.call("read", flaky, io=True) == "read" and calls["flaky"] == 3
        with pytest.raises(UserError):
            pool.call("read", user, io=True)
        assert calls["user"] == 1
        calls["flaky"] = -10
        with pytest.raises(OSError):
            pool.call("normalise", flaky)  # not an I/O step: no retry
        assert calls["flaky"] == -9


def test_an_interruption_waits_for_the_running_units():
    finished = threading.Event()

    def long_unit(i: int) -> None:
        if i == 0:
            time.sleep(0.3)
            finished.set()
        else:
            raise KeyboardInterrupt  # stands for Ctrl-C reaching the waiting driver

    with LocalExecutor(workers=2) as pool:
        with pytest.raises(KeyboardInterrupt):
            pool.map("stage", long_unit, {"i": [0, 1]})
        assert finished.is_set()  # nothing was still writing when the caller got the interruption
