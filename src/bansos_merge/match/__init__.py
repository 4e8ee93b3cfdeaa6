"""The matching service: "is this person already known?", against the latest published run.

A proposal list (`bansos-merge match`) or one person (`POST /api/match` in the review app) is
read and normalised like any source, then linked against the run's records with the run's own
model, thresholds and household rules, without changing the registry:

    latest.py   the run, loaded once and checked (files, contract version, model)
    index.py    the run's records by their blocking keys, in value space, for lookup
    inputs.py   a file (mapped like a source) or a JSON body -> normalised records and rejects
    score.py    candidates -> compared and scored pairs -> matched / ambiguous / not_found
    results.py  one row per input row: the person, the registry's facts, conflicts; NIKs masked
    output.py   match_results.parquet and match_results.xlsx, written atomically
    cli.py      `bansos-merge match`
"""
