"""The review web app (issue 7; group items: issue 14). Decisions are stored and applied by
`bansos_merge.decisions`; nothing outside this package imports it but the command line.

- `items`, `queue`: the app's items (pairs, groups, single-record conflicts) over a run, in
  the review queue's order; `pages`: what the pages show of records.
- `auth`: permissions, passwords, API and CSRF tokens.
- `app`: the FastAPI app (`create_app`), its routes in `routes/`, their shared helpers in
  `web`; `cli`: the `review` and `review-users` subcommands (`register(subparsers)`).
"""
