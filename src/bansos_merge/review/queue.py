"""The review queue over one published run: items, filters, navigation. No web framework here.

The items (see items.py), in this order:
- the review queue (review.parquet) in its own order (`queue_rank`), one entry per queue
  `item`: a pair, or a *group* of three or more records in doubt together;
- pairs of records of a conflict from conflicts.parquet that involves two or more records
  (pairs whose values of the conflict's field differ; for `deceased`, the aid record against
  the person's civil-registry record, for `ineligible` against the person's exclusion-list
  record: is the recipient that person?), most severe first. A pair that several items would
  show is one item, listing every kind it stands for (a conflict pair inside a group joins
  the group);
- *info* items: a conflict about one record (invalid NIK, attribute mismatch, not in the
  civil registry), listed for information, with nothing to decide.

Item ids are short hashes of the pair (a group: of its records; an info item: of the conflict
and record), so an item keeps its id across runs while its records do. Every pair carries
the linkage model's match weight; a group's pairs also their per-comparison levels.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from ..cluster.queue import STAKE_NAMES
from ..identity import record_fingerprint, record_keys, split_key
from .items import SEVERITY_ORDER, ConflictRef, Item, ItemPair, column_order, pair_key

log = logging.getLogger(__name__)

MAX_PAIRS_PER_CONFLICT = 10
# Conflicts about an aid record that an analyst checks against another record of its person.
_PARTNER_KIND = {"deceased": "civil_registry", "ineligible": "exclusion_list"}
PAGE_SIZE = 50
STATUSES = ("open", "decided", "all")
FILTER_KEYS = ("kind", "region", "source", "min", "max", "status")


def _hash_id(prefix: str, text: str) -> str:
    return prefix + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass
class Filters:
    kind: str = ""
    region: str = ""
    source: str = ""
    min: float | None = None
    max: float | None = None
    status: str = "open"

    @classmethod
    def parse(cls, params) -> Filters:
        def number(name: str) -> float | None:
            try:
                value = float(str(params.get(name, "")).replace(",", "."))
            except ValueError:
                return None
            return value if np.isfinite(value) else None

        status = params.get("status", "open")
        return cls(
            kind=str(params.get("kind", ""))[:64],
            region=str(params.get("region", ""))[:64],
            source=str(params.get("source", ""))[:128],
            min=number("min"),
            max=number("max"),
            status=status if status in STATUSES else "open",
        )

    def query(self, **override) -> dict[str, str]:
        """The non-default filters as query parameters."""
        values = {
            "kind": self.kind,
            "region": self.region,
            "source": self.source,
            "min": "" if self.min is None else f"{self.min:g}",
            "max": "" if self.max is None else f"{self.max:g}",
            "status": "" if self.status == "open" else self.status,
        }
        values.update({k: str(v) for k, v in override.items()})
        return {k: v for k, v in values.items() if v}

    def matches(self, item: Item, decided: bool) -> bool:
        if self.kind and self.kind not in item.kinds:
            return False
        if self.region and self.region not in item.regions:
            return False
        if self.source and self.source not in item.sources:
            return False
        if not item.info and (self.min is not None or self.max is not None):
            if np.isnan(item.weight):
                return False
            if self.min is not None and item.weight < self.min:
                return False
            if self.max is not None and item.weight > self.max:
                return False
        if not item.info and self.status != "all" and decided != (self.status == "decided"):
            return False
        return True


class RunData:
    """A published run loaded for review: records, the queue items, per-person records."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.manifest = json.loads((self.folder / "manifest.json").read_text(encoding="utf-8"))
        self.run_id = str(self.manifest.get("run_id", self.folder.name))
        self.records = pd.read_parquet(self.folder / "records.parquet")
        self.keys = record_keys(self.records).to_numpy(dtype=object)
        self.position = {k: i for i, k in reversed(list(enumerate(self.keys)))}
        self.fingerprints = record_fingerprint(self.records).to_numpy(dtype=object)
        self.person_ids = self.records["person_id"].to_numpy(dtype=object)
        self.members = {pid: idx for pid, idx in self.records.groupby("person_id", sort=False).indices.items()}
        region = self.records["regency_code"].astype("string").fillna(self.records["regency"].astype("string"))
        self.region_of = region.fillna("").to_numpy(dtype=object)
        names = pd.DataFrame({"code": region, "name": self.records["regency"].astype("string")}).dropna()
        self.region_names = (
            names.groupby(["code", "name"]).size().reset_index().sort_values(0, ascending=False).drop_duplicates("code")
            .set_index("code")["name"].to_dict()
        )
        review = pd.read_parquet(self.folder / "review.parquet")
        conflicts = pd.read_parquet(self.folder / "conflicts.parquet")
        self.items, self.info_items = self._build(review, conflicts)
        self.by_id = {it.item_id: it for it in self.items + self.info_items}
        self.index = {it.item_id: i for i, it in enumerate(self.items)}
        self.sources = sorted(self.records["source"].astype(str).unique())
        self.regions = sorted({r for it in self.items + self.info_items for r in it.regions if r})
        self.kinds = list(dict.fromkeys(k for it in self.items for k in it.kinds))
        self.info_kinds = list(dict.fromkeys(it.kind for it in self.info_items))
        self.filter_kinds = list(dict.fromkeys(self.kinds + self.info_kinds))
        log.info(
            "review: run %s loaded, %d items to decide (%d groups), %d single-record conflicts",
            self.run_id, len(self.items), sum(it.group for it in self.items), len(self.info_items),
        )

    # ---------------------------------------------------------------- building

    def _place(self, keys: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        pos = [self.position[k] for k in keys]
        regions = tuple(dict.fromkeys(self.region_of[p] for p in pos if self.region_of[p]))
        sources = tuple(dict.fromkeys(split_key(k)[0] for k in keys))
        return regions, sources

    def _build(self, review: pd.DataFrame, conflicts: pd.DataFrame) -> tuple[list[Item], list[Item]]:
        items: list[Item] = []
        by_pair: dict[str, Item] = {}

        def add(item: Item) -> bool:
            """Register a pair or group item; a pair some item already shows joins it instead."""
            if any(k not in self.position for k in item.keys):
                return False
            seen = next((by_pair[k] for k in item.all_pairs if k in by_pair), None)
            if seen is not None:
                if item.kind not in seen.kinds:
                    seen.kinds.append(item.kind)
                seen.conflicts.extend(item.conflicts)
                return False
            item.kinds = [item.kind]
            item.regions, item.sources = self._place(item.keys)
            by_pair.update(dict.fromkeys(item.all_pairs, item))
            items.append(item)
            return True

        groups = [g for g in map(self._review_item, _queue_items(review)) if add(g) and g.group]

        info: list[Item] = []
        conflicts = conflicts[conflicts["kind"] != "review_needed"]
        if len(conflicts):
            conflicts = conflicts.assign(
                _sev=conflicts["severity"].map(SEVERITY_ORDER).fillna(9), _key=record_keys(conflicts)
            ).sort_values(["_sev", "kind", "conflict_id"], kind="stable")
        unscored: list[Item] = []
        for cid, group in conflicts.groupby("conflict_id", sort=False):
            first = group.iloc[0]
            keys = list(dict.fromkeys(group["_key"]))
            values = dict(zip(group["_key"], group["value"].astype("string").fillna("")))
            kind = str(first["kind"])
            ref = dict(
                conflict_id=str(cid),
                kind=kind,
                severity=str(first["severity"]),
                field=None if pd.isna(first["field"]) else str(first["field"]),
                values=None if pd.isna(first["values"]) else str(first["values"]),
                explanation=str(first["explanation"]),
            )
            if kind in _PARTNER_KIND:
                pairs = self._partner_pairs(keys, _PARTNER_KIND[kind])
            elif len(keys) >= 2:
                differ = [(a, b) for a, b in combinations(keys, 2) if values.get(a) != values.get(b)]
                pairs = differ or list(combinations(keys, 2))
            else:
                pairs = []
            pairs = [(a, b) for a, b in pairs if a in self.position and b in self.position][:MAX_PAIRS_PER_CONFLICT]
            if not pairs:
                for k in keys:
                    if k in self.position:
                        it = Item(_hash_id("i", f"{cid}|{k}"), kind, k, None, conflicts=[ConflictRef(**ref)])
                        it.kinds = [kind]
                        it.regions, it.sources = self._place([k])
                        info.append(it)
                continue
            for n, (a, b) in enumerate(pairs, start=1):
                it = Item(_hash_id("p", pair_key(a, b)), kind, a, b, conflicts=[ConflictRef(**ref, pair_no=n, pair_count=len(pairs))])
                if add(it):
                    unscored.append(it)
        self._score(unscored, [p for g in groups for p in g.pairs])
        return items, info

    def _review_item(self, rows: pd.DataFrame) -> Item:
        """One queue item from its review.parquet rows (queue order): a pair, or a group."""
        asked = list(zip(rows["_left"], rows["_right"]))
        first = rows.iloc[0]
        queue = dict(queue_no=int(first["item"]) + 1, stake=first["stake"], doubt=float(rows["doubt"].max()), value=float(rows["value"].sum()))
        if len(rows) == 1 and int(first["item_records"]) <= 2:
            left, right = asked[0]
            return Item(
                _hash_id("p", pair_key(left, right)), "review", left, right, reason=first["reason"], weight=float(first["weight"]),
                run_decision=first["run_decision"], **queue,
            )
        records = column_order(asked)
        stake = min((s for s in rows["stake"] if s in STAKE_NAMES), key=STAKE_NAMES.index, default=first["stake"])
        by_key = {pair_key(a, b): r for (a, b), r in zip(asked, rows.itertuples(index=False))}
        pairs = []
        for a, b in combinations(records, 2):
            r = by_key.get(pair_key(a, b))
            run_same = self.person(a) == self.person(b)
            if r is None:
                pairs.append(ItemPair(a, b, "same" if run_same else "different"))
            else:
                pairs.append(ItemPair(a, b, r.run_decision, True, float(r.weight), r.reason, float(r.doubt)))
        return Item(
            _hash_id("g", "|".join(sorted(records))), "review", records[0], None, reason=first["reason"],
            weight=float(rows["weight"].max()), records=records, pairs=pairs, **{**queue, "stake": stake},
        )

    def _partner_pairs(self, aid_keys: list[str], partner_kind: str) -> list[tuple[str, str]]:
        """Each aid record against its person's records of `partner_kind` (the civil registry's
        of a deceased person, the exclusion list's of an ineligible one)."""
        pairs = []
        kind = self.records["source_kind"].to_numpy(dtype=object)
        pid = self.person_ids
        for k in aid_keys:
            p = self.position.get(k)
            if p is None:
                continue
            for q in self.members.get(pid[p], []):
                if kind[q] == partner_kind and q != p:
                    pairs.append((k, str(self.keys[q])))
        return pairs

    def _score(self, items: list[Item], group_pairs: list[ItemPair]) -> None:
        """The linkage model's weight of each conflict pair, and the weight and levels of each
        pair of a group (the same scoring `explain` does), in one pass over the records."""
        if not (items or group_pairs) or not (self.folder / "model.json").exists():
            return
        try:
            from ..link.comparisons import COMPARISONS
            from ..link.features import build_link_frame
            from ..link.linker import score_candidates
            from ..link.model import FSModel

            a = np.array([self.position[it.left] for it in items] + [self.position[p.left] for p in group_pairs], dtype=np.int64)
            b = np.array([self.position[it.right] for it in items] + [self.position[p.right] for p in group_pairs], dtype=np.int64)
            pairs = pd.DataFrame({"left": np.minimum(a, b), "right": np.maximum(a, b)})
            scored = score_candidates(build_link_frame(self.records), pairs, FSModel.load(self.folder / "model.json"))
        except Exception as e:  # a score is a convenience for filtering; the queue works without it
            log.warning("review: could not score the conflict and group pairs (%s); their score filter will not match", type(e).__name__)
            return
        weights = scored["weight"].to_numpy()
        for it, w in zip(items, weights):
            it.weight = float(w)
        levels = scored[[c.name for c in COMPARISONS]].to_numpy()[len(items) :]
        contributions = scored[[f"w_{c.name}" for c in COMPARISONS]].to_numpy()[len(items) :]
        for p, w, lv, cw in zip(group_pairs, weights[len(items) :], levels, contributions):
            if not p.queued:
                p.weight = float(w)
            p.levels = [(c.name, c.levels[int(k)] if k >= 0 else "no_evidence", float(x)) for c, k, x in zip(COMPARISONS, lv, cw)]

    # ---------------------------------------------------------------- queries

    def record(self, key: str) -> pd.Series | None:
        p = self.position.get(key)
        return None if p is None else self.records.iloc[p]

    def person(self, key: str) -> str | None:
        """The record's person_id in this run."""
        p = self.position.get(key)
        return None if p is None else str(self.person_ids[p])

    def fingerprint(self, key: str) -> str | None:
        p = self.position.get(key)
        return None if p is None else str(self.fingerprints[p])

    def other_records(self, key: str, exclude: set[str], limit: int = 25) -> tuple[str, pd.DataFrame]:
        """The person of `key` and their other records (not in `exclude`)."""
        p = self.position[key]
        pid = str(self.records["person_id"].iloc[p])
        idx = [q for q in self.members.get(pid, []) if self.keys[q] not in exclude][:limit]
        return pid, self.records.iloc[idx].assign(key=self.keys[idx] if len(idx) else [])

    def region_label(self, code: str) -> str:
        name = self.region_names.get(code)
        return f"{name} ({code})" if name and name != code else code

    def is_current(self, decision: dict | None) -> bool:
        """A decision made on the records as they are in this run (fingerprints unchanged)."""
        if decision is None:
            return False
        for side in ("left", "right"):
            stored = decision.get(f"{side}_fingerprint")
            if stored and stored != self.fingerprint(decision[side]):
                return False
        return True


def decided_pairs(run: RunData, current: list[dict]) -> dict[str, dict]:
    """pair -> current decision, for decisions that still apply to this run's records."""
    out = {}
    for d in current:
        if run.is_current(d):
            out[f"{d['left']}|{d['right']}"] = d
    return out


def filter_items(run: RunData, filters: Filters, decided: dict[str, dict]) -> list[Item]:
    return [it for it in run.items if filters.matches(it, it.done(decided))]


def filter_info(run: RunData, filters: Filters) -> list[Item]:
    return [it for it in run.info_items if filters.matches(it, False)]


def next_open(run: RunData, filters: Filters, decided: dict[str, dict], after: str | None) -> Item | None:
    """The next undecided item matching the filter (kind, region, source, score) after `after`, wrapping around."""
    open_filter = Filters(filters.kind, filters.region, filters.source, filters.min, filters.max, "open")
    start = run.index.get(after, -1) + 1 if after else 0
    order = run.items[start:] + run.items[:start]
    for it in order:
        if it.item_id != after and open_filter.matches(it, it.done(decided)):
            return it
    return None


# review.parquet before the queue had items (contract 1.0) lacks these: each pair its own item.
_QUEUE_DEFAULTS = {"item_records": 2, "run_decision": None, "doubt": np.nan, "stake": None, "value": np.nan}


def _queue_items(review: pd.DataFrame) -> list[pd.DataFrame]:
    """review.parquet's rows per queue item, items in queue order, with `_left` / `_right` keys."""
    if "item" not in review.columns:
        review = review.assign(item=np.arange(len(review)), queue_rank=np.arange(1, len(review) + 1))
    review = review.assign(
        **{c: v for c, v in _QUEUE_DEFAULTS.items() if c not in review.columns},
        _left=record_keys(review, "left_"),
        _right=record_keys(review, "right_"),
    ).sort_values("queue_rank", kind="stable")
    return [rows for _, rows in review.groupby("item", sort=False)]
