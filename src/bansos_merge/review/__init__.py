"""The review app and the analysts' decisions store (issue 7).

- `decisions`: fingerprints, loading the current decisions, turning them into must-link /
  cannot-link constraints for the next run, export (no web framework imported).
- `store`: the SQLite file in the state directory (decisions, audit log, users, sessions).
- `app`: the FastAPI app (`create_app`); `cli`: the `review`, `review-users` and
  `decisions` subcommands (`register(subparsers)`).
"""
