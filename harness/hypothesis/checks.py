"""Reading simple CHECK constraints into per-column bounds, for the model strategies.

Only conjunctions of simple comparisons are read: ``col BETWEEN a AND b``, ``col >= a``
(and ``>``, ``<=``, ``<``, ``=``, with the literal on either side), ``col IN (...)``,
``col <> ''``, ``length(col) <= n`` (also ``char_length``/``character_length``) and
``col IS NOT NULL``, joined by ``AND``. Anything else (``OR``, arithmetic, functions, two
columns) is reported as unreadable rather than guessed at.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import CheckConstraint, Table
from sqlalchemy.sql.elements import TextClause


@dataclasses.dataclass
class Bounds:
    """What the readable CHECK constraints allow for one column."""

    low: Decimal | None = None
    low_inclusive: bool = True
    high: Decimal | None = None
    high_inclusive: bool = True
    #: ``col IN (...)`` / ``col = x``: only these values
    choices: tuple[Any, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    not_null: bool = False

    def lower(self, value: Decimal, *, inclusive: bool) -> None:
        if self.low is None or value > self.low or (value == self.low and not inclusive):
            self.low, self.low_inclusive = value, inclusive

    def upper(self, value: Decimal, *, inclusive: bool) -> None:
        if self.high is None or value < self.high or (value == self.high and not inclusive):
            self.high, self.high_inclusive = value, inclusive

    def restrict(self, values: tuple[Any, ...]) -> None:
        if self.choices is None:
            self.choices = values
        else:
            self.choices = tuple(v for v in self.choices if v in values)

    def longest(self, n: int) -> None:
        self.max_length = n if self.max_length is None else min(self.max_length, n)

    def shortest(self, n: int) -> None:
        self.min_length = n if self.min_length is None else max(self.min_length, n)


@dataclasses.dataclass
class Unreadable:
    """A CHECK constraint the strategies cannot honour by themselves."""

    name: str | None
    text: str
    #: the table's columns it mentions
    columns: frozenset[str]

    def __str__(self) -> str:
        return f"{self.name or '(unnamed)'}: CHECK ({self.text})"


@dataclasses.dataclass
class TableChecks:
    bounds: dict[str, Bounds]
    unreadable: list[Unreadable]


_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_LITERAL = rf"(?:{_NUMBER}|'(?:[^']|'')*')"
#: a column, quoted any backend's way or bare, optionally qualified by its table
_COL = (
    r'(?:(?:"[^"]+"|`[^`]+`|\[[^\]]+\]|[A-Za-z_][\w$]*)\.)?'
    r'(?:"(?P<q1>[^"]+)"|`(?P<q2>[^`]+)`|\[(?P<q3>[^\]]+)\]|(?P<bare>[A-Za-z_][\w$]*))'
)
_MIRROR = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "=": "=", "==": "==", "<>": "<>", "!=": "!="}
_LENGTH_FUNCTIONS = ("length", "char_length", "character_length")


def _name(match: re.Match[str]) -> str:
    for group in ("q1", "q2", "q3", "bare"):
        value = match.group(group)
        if value:
            return value
    raise ValueError("no identifier")  # pragma: no cover - one group always matches


_BETWEEN = re.compile(
    rf"^{_COL}\s+BETWEEN\s+(?P<a>{_NUMBER})\s+AND\s+(?P<b>{_NUMBER})$", re.IGNORECASE
)
_COMPARE = re.compile(rf"^{_COL}\s*(?P<op>>=|<=|<>|!=|==|=|>|<)\s*(?P<v>{_LITERAL})$")
_COMPARE_REVERSED = re.compile(rf"^(?P<v>{_LITERAL})\s*(?P<op>>=|<=|<>|!=|==|=|>|<)\s*{_COL}$")
_IN = re.compile(rf"^{_COL}\s+IN\s*\((?P<values>.*)\)$", re.IGNORECASE | re.DOTALL)
_LENGTH = re.compile(
    rf"^(?P<fn>{'|'.join(_LENGTH_FUNCTIONS)})\s*\(\s*{_COL}\s*\)\s*"
    rf"(?P<op>>=|<=|<>|!=|==|=|>|<)\s*(?P<v>\d+)$",
    re.IGNORECASE,
)
_NOT_NULL = re.compile(rf"^{_COL}\s+IS\s+NOT\s+NULL$", re.IGNORECASE)
_BETWEEN_ANYWHERE = re.compile(rf"\bBETWEEN\s+({_NUMBER})\s+AND\s+({_NUMBER})", re.IGNORECASE)


def _literal(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
        raise ValueError(text) from None


def _strip_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    quoted = False
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not quoted


def _conjuncts(text: str) -> list[str] | None:
    """Split on top-level AND (not the AND of BETWEEN); None if there is a top-level OR."""
    # Protect BETWEEN a AND b by rewriting its AND first.
    protected = _BETWEEN_ANYWHERE.sub(lambda m: f"BETWEEN {m.group(1)} \x01 {m.group(2)}", text)
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    upper = protected.upper()
    while i < len(protected):
        char = protected[i]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0:
            for word in ("AND", "OR"):
                end = i + len(word)
                if (
                    upper.startswith(word, i)
                    and (i == 0 or not (upper[i - 1].isalnum() or upper[i - 1] == "_"))
                    and (end == len(upper) or not (upper[end].isalnum() or upper[end] == "_"))
                ):
                    if word == "OR":
                        return None
                    parts.append(protected[start:i])
                    start = end
                    i = end - 1
                    break
        i += 1
    parts.append(protected[start:])
    result = []
    for part in parts:
        part = part.replace("\x01", "AND").strip()
        stripped = _strip_parens(part)
        if stripped != part:
            # A parenthesised group, e.g. (a >= 0 AND a <= 9), or (a OR b): read it on its own.
            inner = _conjuncts(stripped)
            if inner is None:
                return None
            result.extend(inner)
        else:
            result.append(part)
    return result


def _apply(bounds: Bounds, op: str, value: Any) -> bool:
    if isinstance(value, str):
        if op in ("<>", "!=") and value == "":
            bounds.shortest(1)
            return True
        if op in ("=", "=="):
            bounds.restrict((value,))
            return True
        return False
    if op in (">=", ">"):
        bounds.lower(value, inclusive=op == ">=")
    elif op in ("<=", "<"):
        bounds.upper(value, inclusive=op == "<=")
    elif op in ("=", "=="):
        bounds.lower(value, inclusive=True)
        bounds.upper(value, inclusive=True)
    else:
        return False
    return True


def _read_clause(clause: str, columns: dict[str, Bounds]) -> bool:
    """Apply one clause to *columns*; False if it is not of a readable form."""
    if match := _BETWEEN.match(clause):
        bounds = columns.get(_name(match))
        if bounds is None:
            return False
        bounds.lower(Decimal(match.group("a")), inclusive=True)
        bounds.upper(Decimal(match.group("b")), inclusive=True)
        return True
    if match := _COMPARE.match(clause):
        bounds = columns.get(_name(match))
        return bounds is not None and _apply(bounds, match.group("op"), _literal(match.group("v")))
    if match := _COMPARE_REVERSED.match(clause):
        bounds = columns.get(_name(match))
        op = _MIRROR[match.group("op")]
        return bounds is not None and _apply(bounds, op, _literal(match.group("v")))
    if match := _IN.match(clause):
        bounds = columns.get(_name(match))
        if bounds is None:
            return False
        values = [v.strip() for v in _split_list(match.group("values"))]
        if not values or not all(re.fullmatch(_LITERAL, v) for v in values):
            return False
        bounds.restrict(tuple(_literal(v) for v in values))
        return True
    if match := _LENGTH.match(clause):
        bounds = columns.get(_name(match))
        if bounds is None:
            return False
        n, op = int(match.group("v")), match.group("op")
        if op in ("<=", "<"):
            bounds.longest(n if op == "<=" else n - 1)
        elif op in (">=", ">"):
            bounds.shortest(n if op == ">=" else n + 1)
        elif op in ("=", "=="):
            bounds.longest(n)
            bounds.shortest(n)
        else:
            return False
        return True
    if match := _NOT_NULL.match(clause):
        bounds = columns.get(_name(match))
        if bounds is None:
            return False
        bounds.not_null = True
        return True
    return False


def _split_list(text: str) -> list[str]:
    items: list[str] = []
    quoted = False
    current = ""
    for char in text:
        if char == "'":
            quoted = not quoted
        if char == "," and not quoted:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return items


def constraint_text(constraint: CheckConstraint) -> str | None:
    """The SQL of a CHECK constraint as written, or None if it has no literal form."""
    sqltext = constraint.sqltext
    if isinstance(sqltext, TextClause):
        return sqltext.text
    try:
        return str(sqltext.compile(compile_kwargs={"literal_binds": True}))
    except Exception:  # an expression that needs a dialect or a bind to render
        return None


def read_check(text: str, column_names: list[str]) -> dict[str, Bounds] | None:
    """The bounds *text* puts on the named columns, or None if it is not a readable form."""
    columns = {name: Bounds() for name in column_names}
    clauses = _conjuncts(_strip_parens(text))
    if clauses is None:
        return None
    for clause in clauses:
        if not _read_clause(clause, columns):
            return None
    return {name: bounds for name, bounds in columns.items() if bounds != Bounds()}


def _mentioned(text: str, column_names: list[str]) -> frozenset[str]:
    words = set(re.findall(r"[A-Za-z_][\w$]*", text))
    return frozenset(name for name in column_names if name in words)


def table_checks(table: Table) -> TableChecks:
    """Every CHECK constraint of *table*, read into bounds per column or listed as unreadable.

    Constraints a type creates for itself (a non-native Enum's ``IN`` list, a Boolean's
    ``IN (0, 1)``) are skipped: the type's own strategy already honours them.
    """
    names = [column.name for column in table.columns]
    merged: dict[str, Bounds] = {}
    unreadable: list[Unreadable] = []
    constraints = [c for c in table.constraints if isinstance(c, CheckConstraint)]
    for column in table.columns:
        constraints.extend(c for c in column.constraints if isinstance(c, CheckConstraint))
    for constraint in constraints:
        # SQLAlchemy marks the CHECK a SchemaType (Enum, Boolean) makes for itself.
        if getattr(constraint, "_type_bound", False):
            continue
        text = constraint_text(constraint)
        read = read_check(text, names) if text is not None else None
        if read is None:
            shown = text if text is not None else repr(constraint.sqltext)
            name = constraint.name if isinstance(constraint.name, str) else None
            unreadable.append(Unreadable(name, shown, _mentioned(shown, names)))
            continue
        for column_name, bounds in read.items():
            target = merged.setdefault(column_name, Bounds())
            _merge(target, bounds)
    return TableChecks(merged, unreadable)


def _merge(target: Bounds, new: Bounds) -> None:
    if new.low is not None:
        target.lower(new.low, inclusive=new.low_inclusive)
    if new.high is not None:
        target.upper(new.high, inclusive=new.high_inclusive)
    if new.choices is not None:
        target.restrict(new.choices)
    if new.min_length is not None:
        target.shortest(new.min_length)
    if new.max_length is not None:
        target.longest(new.max_length)
    target.not_null = target.not_null or new.not_null


__all__ = ["Bounds", "TableChecks", "Unreadable", "read_check", "table_checks"]
