"""What a request gets back when it cannot be scored: the status and every reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

MAX_ERRORS_NAMED = 5


@dataclass(frozen=True)
class RowError:
    """One broken rule of one request row: the row's index in the request, the column,
    the rule (named as the batch path names it, e.g. `in_range(1, 6000)`) and the value."""

    row: int | None
    column: str
    rule: str
    value: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        where = f"row {self.row}" if self.row is not None else "every row"
        value = "" if self.value is None else f" (value {self.value[:60]})"
        return f"{where}: {self.column}: {self.rule}{value}"


@dataclass
class RequestError(Exception):
    """A request refused as a whole, with an HTTP status (4xx) and the rows and rules at fault."""

    status: int
    message: str
    errors: list[RowError] = field(default_factory=list)

    def __str__(self) -> str:
        named = "; ".join(e.describe() for e in self.errors[:MAX_ERRORS_NAMED])
        more = len(self.errors) - MAX_ERRORS_NAMED
        return (
            self.message
            + (f": {named}" if named else "")
            + (f" (+{more} more)" if more > 0 else "")
        )

    def payload(self) -> dict:
        return {"error": str(self), "errors": [e.to_dict() for e in self.errors]}


def invalid_rows(errors: list[RowError]) -> RequestError:
    """422: rows that break the spec's rules (every broken rule of every row is listed)."""
    rows = {e.row for e in errors if e.row is not None}
    which = f"{len(rows)} row(s) break" if rows else "the request breaks"
    return RequestError(422, f"{which} the spec's rules; nothing was scored", errors)
