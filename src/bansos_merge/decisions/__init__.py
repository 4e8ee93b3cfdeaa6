"""The analysts' decisions: stored durably, and applied to the next run.

The merge core reads them through this package only; the review web app (`review/`) writes
them through it. Nothing here imports a web framework.

- `store`: the SQLite file in the state directory (decisions, audit log, users, sessions);
  `access`: the roles it accepts and how it keeps tokens (as hashes).
- `constraints`: the current decisions as must-link / cannot-link constraints for a run.
- `export`: the decisions as Parquet or CSV (`evaluate --labels` reads them).
- `cli`: the `decisions export|check` subcommands, and where a command finds the store.
"""
