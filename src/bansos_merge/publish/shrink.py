"""The shrink guard: a run whose sources lost most of their rows since the previous published
run stops before it publishes. A civil-registry file replaced by its header alone would
otherwise publish a registry of a few hundred persons and retire thousands of person IDs.

A pure function of the previous run's manifest and this run's accepted rows, so that any way of
running the merge (the flow, an incremental run) can ask it.
"""

from __future__ import annotations

from collections.abc import Mapping


def shrink_problems(previous: Mapping | None, accepted: Mapping[str, int]) -> list[str]:
    """What shrank: each source whose accepted rows fell by more than half since `previous`
    (its manifest), and each source it had rows from that this run does not have at all."""
    problems = []
    for source in (previous or {}).get("sources", []):
        name, before = source["source"], int(source.get("accepted", 0))
        if before == 0:
            continue
        if name not in accepted:
            problems.append(f"source '{name}' ({before:,} rows accepted in the previous run) is not in this run")
        elif 2 * accepted[name] < before:
            problems.append(f"source '{name}': {accepted[name]:,} rows accepted, {before:,} in the previous run")
    return problems


def shrink_message(problems: list[str], previous_run: str) -> str:
    """The one error line of a run the guard stopped (counts and source names only)."""
    return (
        f"the registry would shrink since the previous run {previous_run}: {'; '.join(problems)}. "
        "Nothing was published. If this is intended (a source removed or replaced on purpose), "
        "run again with --allow-shrink"
    )
