"""The review app and the analysts' decisions store (issue 7; group items: issue 14).

- `decisions`: fingerprints, loading the current decisions, turning them into must-link /
  cannot-link constraints for the next run, export (no web framework imported).
- `store`: the SQLite file in the state directory (decisions, audit log, users, sessions).
- `items`, `queue`: the app's items (pairs, groups, single-record conflicts) over a run, in
  the review queue's order; `pages`: what the pages show of records.
- `app`: the FastAPI app (`create_app`), its routes in `routes/`, their shared helpers in
  `web`; `cli`: the `review`, `review-users` and `decisions` subcommands (`register(subparsers)`).
"""
