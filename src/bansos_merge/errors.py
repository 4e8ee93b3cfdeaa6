"""Errors a user can cause. The CLI turns these into one message and exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad config, unreadable file, missing column: the user can fix it, no traceback."""


class ConfigError(UserError):
    pass


class InputError(UserError):
    """An input file cannot be read as configured. Names the source, the file and, where known, the row and field."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        where = [
            f"source '{source}'" if source else None,
            f"file {file}" if file else None,
            f"row {row}" if row is not None else None,
            f"field '{field}'" if field else None,
        ]
        prefix = ", ".join(w for w in where if w)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.source, self.file, self.row, self.field = source, file, row, field


class AccountingError(RuntimeError):
    """Rows read != accepted + rejected: a bug, never the user's fault, so it is not a UserError."""


class RunFailed(Exception):
    """A run that failed for a reason outside the input (its Prefect server, a crash): the CLI
    says so in one line, with exit code 1, and that nothing was published."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that a terminated run cleans up as Ctrl-C does."""
