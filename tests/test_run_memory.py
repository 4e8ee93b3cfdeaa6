"""The run's allocator setting (run/memory.py): set on glibc, and never over the user's own."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest


def _limit(env: dict) -> str:
    code = "from bansos_merge.run.memory import limit_malloc_arenas; print(limit_malloc_arenas())"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the arena cap is glibc's")
def test_the_arena_cap_is_set_on_glibc_unless_the_environment_sets_one() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert _limit(env) == "True"
    assert _limit({**env, "MALLOC_ARENA_MAX": "8"}) == "False"
