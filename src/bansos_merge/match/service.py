"""The matching service's two entry points, over one code path: a list (the CLI) and one
person (the review app's `POST /api/match`) go through the same inputs -> score -> results."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from .inputs import Inputs, json_query
from .latest import LatestRun
from .results import result_rows
from .score import link_to_run


def match_rows(run: LatestRun, inputs: Inputs) -> pd.DataFrame:
    """One result row per row of `inputs` (contracts.MatchResultRow), in the list's order."""
    return result_rows(run, inputs, link_to_run(run, inputs.records))


def _plain(value: object) -> object:
    """A result value as JSON: lists as lists, dates as ISO text, NaN as null."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.isoformat()[:10]
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def match_one(run: LatestRun, body: object) -> dict:
    """The result row of one person sent as a JSON object of canonical fields (see
    inputs.json_query), as a JSON-ready dict with the run it was matched against."""
    row = match_rows(run, json_query(body)).iloc[0]
    return {"run_id": run.run_id, **{name: _plain(v) for name, v in row.items() if name not in ("row_number", "sheet", "record_id")}}
