"""Query-count assertions and the N+1 report, in messages that list what was sent and from where."""

from __future__ import annotations

import collections
import contextlib
import re
from collections.abc import Iterator, Sequence

from harness.queries.recorder import QueryRecorder, Statement

_SPACES = re.compile(r"\s+")
#: how much of one statement a message quotes
_SQL_CHARS = 160


def shape(sql: str) -> str:
    """A statement's shape: its text on one line (parameters are never part of it)."""
    text = _SPACES.sub(" ", sql).strip()
    return text if len(text) <= _SQL_CHARS else text[:_SQL_CHARS] + " ..."


def describe(statements: Sequence[Statement], *, show_parameters: bool = False) -> list[str]:
    """One line per shape: how many times, the SQL, and where the app sent it from."""
    groups: dict[str, list[Statement]] = collections.defaultdict(list)
    for statement in statements:
        groups[shape(statement.sql)].append(statement)
    lines = []
    for sql, members in groups.items():
        places = collections.Counter(m.where for m in members)
        where = ", ".join(f"{w} (x{n})" if n > 1 else w for w, n in places.most_common())
        lines.append(f"  {len(members)} x {sql}    <- {where}")
        if show_parameters:
            lines.extend(f"      parameters: {m.parameters!r}" for m in members)
    return lines


def repeated(statements: Sequence[Statement], threshold: int) -> list[tuple[str, int, str]]:
    """Shapes sent more than *threshold* times within one request or block: (sql, n, where)."""
    counts: collections.Counter[tuple[int, str]] = collections.Counter()
    first_at: dict[tuple[int, str], str] = {}
    for statement in statements:
        key = (statement.segment, shape(statement.sql))
        counts[key] += 1
        first_at.setdefault(key, statement.where)
    return [(sql, n, first_at[(seg, sql)]) for (seg, sql), n in counts.items() if n > threshold]


def nplusone_message(found: list[tuple[str, int, str]], threshold: int) -> str:
    lines = [
        f"harness: N+1 queries: a statement sent more than {threshold} times in one request "
        "(load the relationship eagerly, e.g. selectinload(), or batch the lookups):"
    ]
    lines += [f"  {n} x {sql}    <- {where}" for sql, n, where in found]
    return "\n".join(lines)


class QueryCountError(AssertionError):
    """The code under test sent another number of statements than the test expected."""


class Queries:
    """What the ``db_queries`` fixture gives: the statements the test's code sent, and checks.

    ``with db_queries.at_most(3): ...`` and ``with db_queries.exactly(2, mysql=3): ...``
    check one block (keywords name a backend where it genuinely differs); ``len(db_queries)``
    and ``db_queries.statements`` cover the test so far.
    """

    def __init__(self, recorder: QueryRecorder, backend: str) -> None:
        self._recorder = recorder
        self.backend = backend

    @property
    def statements(self) -> list[Statement]:
        return list(self._recorder.statements)

    def __len__(self) -> int:
        return len(self._recorder.statements)

    def _expected(self, default: int, per_backend: dict[str, int]) -> int:
        return per_backend.get(self.backend, default)

    @contextlib.contextmanager
    def _block(self, check: str, expected: int) -> Iterator[Queries]:
        __tracebackhide__ = True
        start = len(self._recorder.statements)
        self._recorder.new_segment()
        yield self
        sent = self._recorder.statements[start:]
        self._recorder.new_segment()
        if (check == "exactly" and len(sent) != expected) or len(sent) > expected:
            raise QueryCountError(failure_message(sent, check, expected, self.backend))

    def exactly(
        self, expected: int, **per_backend: int
    ) -> contextlib.AbstractContextManager[Queries]:
        """A block that must send exactly *expected* statements."""
        return self._block("exactly", self._expected(expected, per_backend))

    def at_most(
        self, expected: int, **per_backend: int
    ) -> contextlib.AbstractContextManager[Queries]:
        """A block that may send at most *expected* statements."""
        return self._block("at most", self._expected(expected, per_backend))


def failure_message(sent: Sequence[Statement], check: str, expected: int, backend: str) -> str:
    head = (
        f"expected {check} {expected} statement{'s' if expected != 1 else ''} on {backend}, "
        f"the code under test sent {len(sent)}:"
    )
    return "\n".join([head, *describe(sent)])
