"""The search query language of ``/api/workflow/search`` and ``/api/tasks/search``, parsed to a small AST.

Conductor passes its ``query`` text to Elasticsearch's parser; Baton keeps the part
its clients write::

    workflowType IN (order, refund) AND status = FAILED AND startTime > 1700000000000
    (status = RUNNING OR status = PAUSED) AND correlationId = 'order 42'

* comparisons ``field = v``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``field IN (v1, v2)``, ``field NOT IN (...)``;
* ``AND`` binds tighter than ``OR``; parentheses group; keywords are case-insensitive;
* a value is a bare word (letters, digits and ``_ - . : @ / +``) or a quoted string (``'...'`` or
  ``"..."``, with the quote doubled inside);
* time fields take epoch milliseconds or an ISO-8601 date-time (``2024-05-01T10:00:00Z``, UTC when
  no offset is given); number fields a whole number; status fields one of the statuses.

Runs also have ``entityId``, Baton's addition: the Ballerine entity a run is about (its
``ballerineEntityId``), as ``entityId = 'e-1'`` finds the runs started through ``/api/v1`` for it.

Which fields exist and what kind each is comes from a ``Schema`` (``WORKFLOW_FIELDS``,
``TASK_FIELDS``). Every error is a ``QueryError`` whose message says where the text is wrong, as a
0-based character offset: ``expected IN or = after 'status' at 7``. Nothing here does I/O: the
stores turn the AST into SQL with bound parameters (``baton/store/common/search.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from baton.model.runs import TaskStatus, WorkflowStatus


class QueryError(ValueError):
    """The query (or sort) text is not valid; the message says where."""


class FieldKind(Enum):
    TEXT = "text"
    STATUS = "status"
    TIME = "time"
    NUMBER = "number"


class Operator(Enum):
    EQ = "="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    IN = "IN"
    NOT_IN = "NOT IN"


_ORDERING = frozenset({Operator.GT, Operator.GE, Operator.LT, Operator.LE})

Value = str | int


@dataclass(frozen=True)
class Comparison:
    field: str
    operator: Operator
    values: tuple[Value, ...]
    """One value, or the list of IN / NOT IN; ints for time and number fields."""


@dataclass(frozen=True)
class And:
    parts: tuple[Query, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Query, ...]


Query = Comparison | And | Or


@dataclass(frozen=True)
class Schema:
    """The fields a query may name, and their kinds; ``statuses``: what a STATUS field accepts."""

    fields: Mapping[str, FieldKind]
    statuses: frozenset[str]


WORKFLOW_FIELDS = Schema(
    fields={
        "workflowId": FieldKind.TEXT,
        "workflowType": FieldKind.TEXT,
        "correlationId": FieldKind.TEXT,
        "status": FieldKind.STATUS,
        "version": FieldKind.NUMBER,
        "priority": FieldKind.NUMBER,
        "startTime": FieldKind.TIME,
        "updateTime": FieldKind.TIME,
        "endTime": FieldKind.TIME,
        "entityId": FieldKind.TEXT,
    },
    statuses=frozenset(s.value for s in WorkflowStatus),
)
TASK_FIELDS = Schema(
    fields={
        "taskId": FieldKind.TEXT,
        "taskType": FieldKind.TEXT,
        "taskDefName": FieldKind.TEXT,
        "referenceTaskName": FieldKind.TEXT,
        "workflowId": FieldKind.TEXT,
        "workflowType": FieldKind.TEXT,
        "correlationId": FieldKind.TEXT,
        "status": FieldKind.STATUS,
        "scheduledTime": FieldKind.TIME,
        "startTime": FieldKind.TIME,
        "updateTime": FieldKind.TIME,
        "endTime": FieldKind.TIME,
    },
    statuses=frozenset(s.value for s in TaskStatus),
)


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool


# -- tokens --------------------------------------------------------------------------


class _Kind(Enum):
    WORD = "word"
    STRING = "string"
    OPERATOR = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str
    position: int

    def shown(self) -> str:
        return "the end" if self.kind is _Kind.END else f"'{self.text}'"


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<operator>!=|>=|<=|=|>|<)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<word>[A-Za-z0-9_\-.:@/+]+)
    """,
    re.VERBOSE,
)
_PUNCTUATION = {"lparen": _Kind.LPAREN, "rparen": _Kind.RPAREN, "comma": _Kind.COMMA}
MAX_QUERY_LENGTH = 4096
MAX_QUERY_NESTING = 32
"""Deepest parentheses a query may nest; the parser and the SQL built from the tree recurse once a level."""
MAX_FREE_TEXT_WORDS = 32
"""Most words a ``freeText`` may hold: each is a condition of the SQL, and SQLite bounds their nesting."""
"""Deepest parentheses a query may nest; the parser and the SQL built from the tree recurse once a level."""


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            if text[position] in "'\"":
                raise QueryError(f"unterminated quoted value at {position}")
            raise QueryError(f"unexpected character '{text[position]}' at {position}")
        group = match.lastgroup
        value = match.group()
        if group == "string":
            quote = value[0]
            found.append(_Token(_Kind.STRING, value[1:-1].replace(quote * 2, quote), position))
        elif group == "operator":
            found.append(_Token(_Kind.OPERATOR, value, position))
        elif group in _PUNCTUATION:
            found.append(_Token(_PUNCTUATION[group], value, position))
        elif group == "word":
            found.append(_Token(_Kind.WORD, value, position))
        position = match.end()
    found.append(_Token(_Kind.END, "", len(text)))
    return found


# -- parser --------------------------------------------------------------------------


def parse_query(text: str | None, schema: Schema) -> Query | None:
    """The AST of ``text``; None for no query (empty, blank or ``*``)."""
    if text is None or not text.strip() or text.strip() == "*":
        return None
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"is longer than {MAX_QUERY_LENGTH} characters")
    return _Parser(_tokens(text), schema).parse()


class _Parser:
    """Recursive descent: or := and (OR and)*; and := term (AND term)*; term := ( or ) | comparison."""

    def __init__(self, tokens: list[_Token], schema: Schema) -> None:
        self._tokens = tokens
        self._at = 0
        self._schema = schema
        self._depth = 0

    def parse(self) -> Query:
        query = self._or()
        token = self._peek()
        if token.kind is not _Kind.END:
            raise QueryError(f"expected AND, OR or the end, got {token.shown()} at {token.position}")
        return query

    def _peek(self) -> _Token:
        return self._tokens[self._at]

    def _next(self) -> _Token:
        token = self._tokens[self._at]
        if token.kind is not _Kind.END:
            self._at += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token.kind is _Kind.WORD and token.text.upper() == word:
            self._at += 1
            return True
        return False

    def _or(self) -> Query:
        parts = [self._and()]
        while self._keyword("OR"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def _and(self) -> Query:
        parts = [self._term()]
        while self._keyword("AND"):
            parts.append(self._term())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _term(self) -> Query:
        token = self._next()
        if token.kind is _Kind.LPAREN:
            self._depth += 1
            if self._depth > MAX_QUERY_NESTING:
                raise QueryError(f"nests parentheses deeper than {MAX_QUERY_NESTING} levels at {token.position}")
            inner = self._or()
            self._depth -= 1
            closing = self._next()
            if closing.kind is not _Kind.RPAREN:
                raise QueryError(f"expected ')' to close the '(' at {token.position}, got {closing.shown()}")
            return inner
        if token.kind is not _Kind.WORD:
            raise QueryError(f"expected a field name, got {token.shown()} at {token.position}")
        kind = self._schema.fields.get(token.text)
        if kind is None:
            known = ", ".join(sorted(self._schema.fields))
            raise QueryError(f"unknown field '{token.text}' at {token.position} (known: {known})")
        return self._comparison(token, kind)

    def _comparison(self, field: _Token, kind: FieldKind) -> Comparison:
        token = self._next()
        operator: Operator | None = None
        if token.kind is _Kind.OPERATOR:
            operator = Operator(token.text)
        elif token.kind is _Kind.WORD and token.text.upper() == "IN":
            operator = Operator.IN
        elif token.kind is _Kind.WORD and token.text.upper() == "NOT" and self._keyword("IN"):
            operator = Operator.NOT_IN
        if operator is None:
            expected = "IN or =" if kind in (FieldKind.TEXT, FieldKind.STATUS) else "=, <, >, <=, >= or IN"
            raise QueryError(f"expected {expected} after '{field.text}' at {token.position}")
        if operator in _ORDERING and kind in (FieldKind.TEXT, FieldKind.STATUS):
            raise QueryError(f"'{field.text}' cannot be compared with {operator.value} (at {token.position})")
        if operator in (Operator.IN, Operator.NOT_IN):
            values = self._list(field.text, kind)
        else:
            values = (self._value(field.text, kind),)
        return Comparison(field.text, operator, values)

    def _list(self, field: str, kind: FieldKind) -> tuple[Value, ...]:
        opening = self._next()
        if opening.kind is not _Kind.LPAREN:
            raise QueryError(f"expected '(' after IN at {opening.position}")
        values = [self._value(field, kind)]
        while True:
            token = self._next()
            if token.kind is _Kind.RPAREN:
                return tuple(values)
            if token.kind is not _Kind.COMMA:
                got = f"got {token.shown()} at {token.position}"
                raise QueryError(f"expected ',' or ')' in the list of '{field}', {got}")
            values.append(self._value(field, kind))

    def _value(self, field: str, kind: FieldKind) -> Value:
        token = self._next()
        if token.kind not in (_Kind.WORD, _Kind.STRING):
            raise QueryError(f"expected a value for '{field}', got {token.shown()} at {token.position}")
        if kind is FieldKind.TEXT:
            return token.text
        if kind is FieldKind.STATUS:
            status = token.text.upper()
            if status not in self._schema.statuses:
                choices = ", ".join(sorted(self._schema.statuses))
                raise QueryError(f"'{token.text}' at {token.position} is not a status (one of {choices})")
            return status
        if kind is FieldKind.NUMBER:
            if re.fullmatch(r"-?\d{1,18}", token.text) is None:
                raise QueryError(f"'{field}' needs a whole number, got '{token.text}' at {token.position}")
            return int(token.text)
        millis = parse_time(token.text)
        if millis is None:
            raise QueryError(
                f"'{field}' needs epoch milliseconds or an ISO-8601 date-time, got '{token.text}' at {token.position}"
            )
        return millis


def parse_time(text: str) -> int | None:
    """Epoch milliseconds from digits or an ISO-8601 date-time (UTC unless it says otherwise); None if neither."""
    if re.fullmatch(r"-?\d{1,18}", text):
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


# -- sort ------------------------------------------------------------------------------


def parse_sort(text: str | None, schema: Schema) -> tuple[SortKey, ...]:
    """``startTime:DESC,workflowId`` (also ``|`` or ``;`` between keys) -> sort keys; ASC when not said."""
    if text is None or not text.strip():
        return ()
    keys: list[SortKey] = []
    for raw in re.split(r"[,|;]", text):
        item = raw.strip()
        if not item:
            continue
        name, _, direction = item.partition(":")
        name = name.strip()
        if name not in schema.fields:
            known = ", ".join(sorted(schema.fields))
            raise QueryError(f"unknown field '{name[:40]}' (known: {known})")
        order = direction.strip().upper() or "ASC"
        if order not in ("ASC", "DESC"):
            raise QueryError(f"'{name}' sorts ASC or DESC, got '{direction.strip()[:40]}'")
        if all(key.field != name for key in keys):  # a field sorted again changes nothing
            keys.append(SortKey(name, order == "DESC"))
    return tuple(keys)


def free_text_terms(text: str | None) -> tuple[str, ...]:
    """The words of a ``freeText``; none for no text or ``*`` (everything)."""
    if text is None:
        return ()
    stripped = text.strip()
    if stripped in ("", "*"):
        return ()
    if len(stripped) > MAX_QUERY_LENGTH:
        raise QueryError(f"is longer than {MAX_QUERY_LENGTH} characters")
    words = tuple(word for word in stripped.split() if word != "*")
    if len(words) > MAX_FREE_TEXT_WORDS:
        raise QueryError(f"has more than {MAX_FREE_TEXT_WORDS} words")
    return words
