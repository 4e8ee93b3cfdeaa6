"""What the review app lists, and how a group item's answer becomes pair decisions. No web
framework here.

An item is one question for an analyst:
- a *pair*: two records, one person or two (a review.parquet pair, or two records of a
  conflict);
- a *group*: three or more records the run is in doubt about together (review.parquet rows
  sharing an `item`, e.g. an aid-list record that fits two registry persons). The question is
  "which of these records are one person?": the analyst puts each record in a person (1..N)
  or says "not sure" about it, and the answer is stored as a decision on *every* pair of the
  group's records (same person -> same, different persons -> different, either record not
  sure -> unsure), so that `decisions.constraints` turns it into must-links and cannot-links
  exactly as it does pair decisions;
- an *info* item: a conflict about one record, listed for information, nothing to decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

from ..decisions.store import ordered_pair

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
UNSURE = "unsure"  # a record's "person" when the analyst is not sure where it belongs


def pair_key(left: str, right: str) -> str:
    """`LOW|HIGH`: an unordered pair as the decisions store keys it."""
    lo, hi, _ = ordered_pair(left, right)
    return f"{lo}|{hi}"


@dataclass
class ConflictRef:
    """One conflict (conflicts.parquet) an item stands for."""

    conflict_id: str
    kind: str
    severity: str
    field: str | None
    values: str | None
    explanation: str
    pair_no: int = 1
    pair_count: int = 1


@dataclass
class ItemPair:
    """A pair of a group item's records: what the run decided and the model's evidence."""

    left: str
    right: str
    run_decision: str  # same | different: one person in the run, or two
    queued: bool = False  # a review.parquet pair (else a pair among the records the queue did not ask)
    weight: float = float("nan")
    reason: str | None = None
    doubt: float = float("nan")
    levels: list[tuple[str, str, float]] = field(default_factory=list)  # (comparison, level, weight)

    @property
    def key(self) -> str:
        return pair_key(self.left, self.right)


@dataclass
class Item:
    item_id: str
    kind: str  # the first kind it was listed under: 'review' or a conflict kind
    left: str  # SOURCE:RECORD_ID (a group: its first record)
    right: str | None  # None for an info item and a group
    reason: str | None = None  # review reason (a group: its first pair's)
    kinds: list[str] = field(default_factory=list)  # every kind this item is listed under
    weight: float = float("nan")  # a group: its strongest pair's
    conflicts: list[ConflictRef] = field(default_factory=list)
    regions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    # The review queue's view (review.parquet), for review items:
    queue_no: int | None = None  # its place in the queue: 1, 2, ... (review.parquet's `item` + 1)
    stake: str | None = None  # a group: the highest stake among its pairs
    doubt: float = float("nan")  # a group: its most doubtful pair's
    value: float = float("nan")  # a group: the sum over its pairs (what its answer can fix)
    run_decision: str | None = None  # pairs only
    records: tuple[str, ...] = ()  # a group's records, in column order
    pairs: list[ItemPair] = field(default_factory=list)  # a group: every pair of its records

    @property
    def group(self) -> bool:
        return len(self.records) >= 3

    @property
    def info(self) -> bool:
        return self.right is None and not self.group

    @property
    def keys(self) -> list[str]:
        """The records the item shows."""
        if self.group:
            return list(self.records)
        return [self.left] if self.info else [self.left, self.right]

    @property
    def pair(self) -> str | None:
        """A pair item's pair key (None for a group or an info item)."""
        return None if self.right is None else pair_key(self.left, self.right)

    @property
    def all_pairs(self) -> list[str]:
        """Every pair key a decision on this item stores."""
        if self.group:
            return [p.key for p in self.pairs]
        return [] if self.info else [self.pair]

    @property
    def asked(self) -> list[str]:
        """The pair keys the item asks about: a group's queued pairs, or the pair."""
        return [p.key for p in self.pairs if p.queued] if self.group else self.all_pairs

    @property
    def target(self) -> str:
        """What the audit log names: the pair, the group's records, or the record."""
        return "|".join(sorted(self.records)) if self.group else (self.pair or self.left)

    @property
    def conflict_id(self) -> str | None:
        return self.conflicts[0].conflict_id if self.conflicts else None

    @property
    def severity(self) -> str | None:
        return min((c.severity for c in self.conflicts), key=lambda s: SEVERITY_ORDER.get(s, 9), default=None)

    def done(self, decided: dict[str, dict]) -> bool:
        """Every pair it asks about has a current decision."""
        asked = self.asked
        return bool(asked) and all(p in decided for p in asked)

    def pairs_done(self, decided: dict[str, dict]) -> int:
        return sum(p in decided for p in self.asked)


def column_order(pairs: list[tuple[str, str]]) -> tuple[str, ...]:
    """A group's records for its columns: the record most pairs share first (the one in
    question: an aid record against several registry persons), then as the queue met them."""
    seen = list(dict.fromkeys(k for pair in pairs for k in pair))
    degree = {k: sum(k in pair for pair in pairs) for k in seen}
    return tuple(sorted(seen, key=lambda k: (-degree[k], seen.index(k))))


def _numbered(labels: list[object]) -> list[int | str]:
    """Persons numbered 1, 2, ... in the order the records first show them; None -> UNSURE."""
    number: dict[object, int] = {}
    out: list[int | str] = []
    for label in labels:
        if label is None:
            out.append(UNSURE)
        else:
            out.append(number.setdefault(label, len(number) + 1))
    return out


def prefill(item: Item, decided: dict[str, dict], person_of: dict[str, str]) -> list[int | str]:
    """Each record's person as the group form starts: the current decisions when every pair
    of the group has one (the analyst's last answer), else the run's persons (records of one
    person_id together). A record whose every decision is 'unsure' starts as UNSURE."""
    keys = list(item.records)
    current = {p.key: decided.get(p.key) for p in item.pairs}
    if not all(current.values()):
        return _numbered([person_of.get(k, k) for k in keys])
    root = {k: k for k in keys}

    def find(k: str) -> str:
        while root[k] != k:
            k = root[k]
        return k

    for p in item.pairs:
        if current[p.key]["decision"] == "same":
            root[find(p.left)] = find(p.right)
    unsure = {k for k in keys if all(current[p.key]["decision"] == UNSURE for p in item.pairs if k in (p.left, p.right))}
    return _numbered([None if k in unsure else find(k) for k in keys])


def parse_assignment(values: list[str], n: int) -> list[int | str] | None:
    """The form's person per record ('1'..'n' or 'unsure'); None when any is missing or invalid."""
    out: list[int | str] = []
    for v in values:
        if v == UNSURE:
            out.append(UNSURE)
        elif v.isdigit() and 1 <= int(v) <= n:
            out.append(int(v))
        else:
            return None
    return out if len(out) == n else None


def assignment_decisions(records: tuple[str, ...] | list[str], persons: list[int | str]) -> list[tuple[str, str, str]]:
    """(left, right, decision) for every pair of the records: 'same' when both are in one
    person, 'different' when in two, 'unsure' when either record is not sure."""
    out = []
    for (a, pa), (b, pb) in combinations(zip(records, persons), 2):
        decision = UNSURE if UNSURE in (pa, pb) else ("same" if pa == pb else "different")
        out.append((a, b, decision))
    return out
