"""A small SOQL subset for the Salesforce fake: tokenizer, recursive-descent parser, evaluator.

Supported::

    SELECT f1, f2, Rel.Field[, Rel.Rel.Field] | COUNT()
    FROM Object
    [WHERE cond]            -- AND / OR / NOT, parentheses; mixing AND and OR at one level
                            -- without parentheses is a MALFORMED_QUERY, as in Salesforce
    [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n] [OFFSET n]

Operators ``= != <> < <= > >= IN (...) NOT IN (...) LIKE``. Literals: ``'strings'`` with
backslash escapes, numbers, ``true``/``false``, ``null``, datetimes (``2026-01-05T10:00:00Z``,
``.000Z``, ``+01:00``, ``+0100``), dates (``2026-01-05``) and the date literals ``TODAY``,
``YESTERDAY``, ``TOMORROW``, ``LAST_N_DAYS:n``, ``NEXT_N_DAYS:n``, ``N_DAYS_AGO:n``.

Comparisons are typed by the field's catalog type: datetimes compare as instants, dates as
dates, numbers as numbers, strings case-insensitively (ids: exact, 15/18-character tolerant).
A literal of the wrong kind (a quoted datetime, an unquoted string) is refused the way
Salesforce refuses it. ``!=`` and ``NOT IN`` match nulls (SOQL treats null as a value).

This module knows nothing about the store: :func:`parse` resolves names against a
:class:`Schema`, and evaluation reads values through a ``get(FieldRef)`` callable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any

STRING_TYPES = frozenset(
    {"string", "picklist", "email", "url", "textarea", "phone", "multipicklist", "combobox"}
)
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int", "long"})
UNFILTERABLE_TYPES = frozenset({"anyType", "base64", "location", "address"})

# Relationship names whose target is not simply the name itself.
_USER_RELATIONSHIPS = frozenset(
    {"Owner", "CreatedBy", "LastModifiedBy", "QuotaOwner", "Manager", "Delegate"}
)


class SoqlError(Exception):
    """A query Salesforce would refuse: ``error_code`` is the API's errorCode."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


# ---------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------
class Schema:
    """The objects and fields visible to the query (per request: single-currency orgs hide
    CurrencyIsoCode and the currency objects)."""

    def __init__(self, fields: dict[str, dict[str, str]]) -> None:
        self.fields = fields
        self._objects = {name.lower(): name for name in fields}
        self._fields_ci = {
            obj: {f.lower(): f for f in flds} for obj, flds in fields.items()
        }

    def object_name(self, name: str) -> str | None:
        return self._objects.get(name.lower())

    def field(self, sobject: str, name: str) -> tuple[str, str] | None:
        canonical = self._fields_ci.get(sobject, {}).get(name.lower())
        if canonical is None:
            return None
        return canonical, self.fields[sobject][canonical]

    def relationship(self, sobject: str, name: str) -> tuple[str, str, str] | None:
        """``(relationship name, reference field, target object)`` for ``Owner`` on Lead etc."""
        ref = self.field(sobject, name + "Id")
        if ref is None or ref[1] != "reference":
            return None
        ref_field = ref[0]
        rel_name = ref_field[:-2]
        target = relationship_target(sobject, rel_name)
        if target is None or self.object_name(target) is None:
            return None
        return rel_name, ref_field, self.object_name(target) or target


def relationship_target(sobject: str, rel_name: str) -> str | None:
    if rel_name in _USER_RELATIONSHIPS:
        return "User"
    if rel_name == "MasterRecord":
        return sobject
    if rel_name.startswith("Converted"):
        return rel_name[len("Converted"):]
    if rel_name == "Period":
        return "Period"
    return rel_name


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>[+-]?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<dateliteral>[A-Za-z_]+:\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}

KEYWORDS = frozenset(
    {
        "select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc",
        "desc", "nulls", "first", "last", "limit", "offset", "null", "true", "false",
        "group", "having", "with", "for", "using", "includes", "excludes",
    }
)


@dataclasses.dataclass(frozen=True)
class Token:
    kind: str   # string datetime date number op punct dateliteral ident eof
    text: str
    pos: int

    @property
    def keyword(self) -> str | None:
        if self.kind == "ident" and self.text.lower() in KEYWORDS:
            return self.text.lower()
        return None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise SoqlError("MALFORMED_QUERY", _at(text, pos, f"unexpected token: '{text[pos]}'"))
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


def _unescape(raw: str) -> str:
    out: list[str] = []
    i = 1
    body_end = len(raw) - 1
    while i < body_end:
        ch = raw[i]
        if ch == "\\":
            nxt = raw[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in "%_":
                out.append("\\" + nxt)   # kept escaped: only LIKE gives it a meaning
            else:
                raise SoqlError("MALFORMED_QUERY", f"Invalid string literal {raw}: bad escape \\{nxt}")
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _at(text: str, pos: int, message: str) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"\n{text}\n{' ' * (col - 1)}^\nERROR at Row:{line}:Column:{col}\n{message}"


# ---------------------------------------------------------------------------------------------
# AST
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FieldRef:
    """A resolved field path: ``hops`` are (reference field, target object) steps."""

    path: tuple[str, ...]              # canonical names, e.g. ("Owner", "Name")
    hops: tuple[tuple[str, str], ...]  # (("OwnerId", "User"),)
    name: str                          # final canonical field name
    type: str                          # its catalog type
    sobject: str                       # the object that holds the final field

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclasses.dataclass(frozen=True)
class Literal:
    kind: str       # string number bool null datetime date range
    value: Any      # range: (start date, end date exclusive)
    text: str


@dataclasses.dataclass
class Compare:
    field: FieldRef
    op: str          # = != < <= > >=
    value: Literal


@dataclasses.dataclass
class InList:
    field: FieldRef
    values: list[Literal]
    negate: bool


@dataclasses.dataclass
class Like:
    field: FieldRef
    pattern: re.Pattern[str]


@dataclasses.dataclass
class Not:
    expr: Expr


@dataclasses.dataclass
class BoolOp:
    op: str          # and | or
    parts: list[Expr]


Expr = Compare | InList | Like | Not | BoolOp


@dataclasses.dataclass
class OrderItem:
    field: FieldRef
    descending: bool
    nulls_first: bool


@dataclasses.dataclass
class Query:
    sobject: str
    fields: list[FieldRef]            # empty for COUNT()
    count: bool
    where: Expr | None
    order_by: list[OrderItem]
    limit: int | None
    offset: int
    text: str


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------
def parse(text: str, schema: Schema, *, today: dt.date | None = None) -> Query:
    """Parse and resolve ``text``; raises :class:`SoqlError` as Salesforce would."""
    if not text or not text.strip():
        raise SoqlError("MALFORMED_QUERY", "SOQL statements cannot be empty or null")
    return _Parser(text, schema, today or dt.datetime.now(dt.UTC).date()).parse()


class _Parser:
    def __init__(self, text: str, schema: Schema, today: dt.date) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.schema = schema
        self.today = today
        self.sobject = ""

    # -- token helpers ------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def is_kw(self, *words: str) -> bool:
        return self.tok.keyword in words

    def expect_kw(self, word: str) -> None:
        if not self.is_kw(word):
            self.fail(f"unexpected token: '{self.tok.text or '<EOF>'}'")
        self.advance()

    def expect_punct(self, ch: str) -> None:
        if not (self.tok.kind == "punct" and self.tok.text == ch):
            self.fail(f"unexpected token: '{self.tok.text or '<EOF>'}'")
        self.advance()

    def fail(self, message: str, code: str = "MALFORMED_QUERY", tok: Token | None = None) -> None:
        tok = tok or self.tok
        raise SoqlError(code, _at(self.text, tok.pos, message))

    # -- grammar ------------------------------------------------------------------------
    def parse(self) -> Query:
        self.expect_kw("select")
        # The FROM clause must be read before the select list can be resolved.
        select_start = self.i
        depth = 0
        while not (self.is_kw("from") and depth == 0):
            if self.tok.kind == "eof":
                self.fail("unexpected token: '<EOF>'")
            if self.tok.kind == "punct" and self.tok.text == "(":
                depth += 1
            elif self.tok.kind == "punct" and self.tok.text == ")":
                depth -= 1
            self.advance()
        select_end = self.i
        self.advance()  # FROM
        obj_tok = self.advance()
        if obj_tok.kind != "ident" or obj_tok.keyword or "." in obj_tok.text:
            self.fail(f"unexpected token: '{obj_tok.text or '<EOF>'}'", tok=obj_tok)
        sobject = self.schema.object_name(obj_tok.text)
        if sobject is None:
            self.fail(
                f"sObject type '{obj_tok.text}' is not supported. If you are attempting to use "
                "a custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
                code="INVALID_TYPE", tok=obj_tok,
            )
        self.sobject = sobject or ""
        after_from = self.i

        self.i = select_start
        count, fields = self.select_list(select_end)
        self.i = after_from

        where = None
        if self.is_kw("where"):
            self.advance()
            where = self.condition()
        order_by: list[OrderItem] = []
        if self.is_kw("order"):
            self.advance()
            self.expect_kw("by")
            order_by = self.order_list()
        limit = None
        offset = 0
        if self.is_kw("limit"):
            self.advance()
            limit = self.integer()
        if self.is_kw("offset"):
            self.advance()
            offset = self.integer()
            if offset > 2000:
                self.fail("Maximum SOQL offset allowed is 2000", code="NUMBER_OUTSIDE_VALID_RANGE")
        if self.tok.kind != "eof":
            self.fail(f"unexpected token: '{self.tok.text}'")
        return Query(self.sobject, fields, count, where, order_by, limit, offset, self.text)

    def integer(self) -> int:
        t = self.advance()
        if t.kind != "number" or not t.text.lstrip("+").isdigit():
            self.fail(f"unexpected token: '{t.text or '<EOF>'}'", tok=t)
        return int(t.text)

    def select_list(self, end: int) -> tuple[bool, list[FieldRef]]:
        t = self.tok
        if t.kind == "ident" and t.text.lower() == "count" and self.tokens[self.i + 1].text == "(":
            self.advance()
            self.expect_punct("(")
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                self.fail("the fake supports COUNT() only, not COUNT(field)")
            self.advance()
            if self.i != end:
                self.fail(f"unexpected token: '{self.tok.text}'")
            return True, []
        fields: list[FieldRef] = []
        seen: set[str] = set()
        while True:
            ft = self.advance()
            if ft.kind != "ident" or ft.keyword:
                self.fail(f"unexpected token: '{ft.text or '<EOF>'}'", tok=ft)
            if self.tok.kind == "punct" and self.tok.text == "(":
                self.fail(f"the fake does not support functions or subqueries: '{ft.text}('", tok=ft)
            ref = self.resolve(ft)
            key = ref.dotted.lower()
            if key in seen:
                self.fail(f"duplicate field selected: {ref.dotted}", tok=ft)
            seen.add(key)
            fields.append(ref)
            if self.i == end:
                break
            self.expect_punct(",")
        return False, fields

    def resolve(self, t: Token, *, filtering: bool = False) -> FieldRef:
        parts = t.text.split(".")
        sobject = self.sobject
        hops: list[tuple[str, str]] = []
        path: list[str] = []
        # An optional leading object-name qualifier (SELECT Lead.Id FROM Lead).
        if len(parts) > 1 and parts[0].lower() == sobject.lower():
            parts = parts[1:]
        for rel in parts[:-1]:
            resolved = self.schema.relationship(sobject, rel)
            if resolved is None:
                self.fail(
                    f"Didn't understand relationship '{rel}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' "
                    "after the custom relationship name. Please reference your WSDL or the "
                    "describe call for the appropriate names.",
                    code="INVALID_FIELD", tok=t,
                )
                raise AssertionError  # pragma: no cover
            rel_name, ref_field, target = resolved
            hops.append((ref_field, target))
            path.append(rel_name)
            sobject = target
        found = self.schema.field(sobject, parts[-1])
        if found is None:
            self.fail(
                f"No such column '{parts[-1]}' on entity '{sobject}'. If you are attempting "
                "to use a custom field, be sure to append the '__c' after the custom field "
                "name. Please reference your WSDL or the describe call for the appropriate "
                "names.",
                code="INVALID_FIELD", tok=t,
            )
            raise AssertionError  # pragma: no cover
        name, ftype = found
        path.append(name)
        if filtering and ftype in UNFILTERABLE_TYPES:
            self.fail(f"field '{name}' can not be filtered in a query call", code="INVALID_FIELD", tok=t)
        return FieldRef(tuple(path), tuple(hops), name, ftype, sobject)

    def condition(self) -> Expr:
        first = self.unary()
        op: str | None = None
        parts = [first]
        while self.is_kw("and", "or"):
            word = self.tok.keyword or ""
            if op is not None and word != op:
                self.fail(f"unexpected token: '{self.tok.text}'")
            op = word
            self.advance()
            parts.append(self.unary())
        return first if op is None else BoolOp(op, parts)

    def unary(self) -> Expr:
        if self.is_kw("not"):
            self.advance()
            return Not(self.unary())
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.advance()
            expr = self.condition()
            self.expect_punct(")")
            return expr
        return self.predicate()

    def predicate(self) -> Expr:
        ft = self.advance()
        if ft.kind != "ident" or ft.keyword:
            self.fail(f"unexpected token: '{ft.text or '<EOF>'}'", tok=ft)
        ref = self.resolve(ft, filtering=True)
        if self.is_kw("not"):
            self.advance()
            if not self.is_kw("in"):
                self.fail(f"unexpected token: '{self.tok.text or '<EOF>'}'")
            self.advance()
            return InList(ref, self.value_list(ref), True)
        if self.is_kw("in"):
            self.advance()
            return InList(ref, self.value_list(ref), False)
        if self.is_kw("like"):
            self.advance()
            vt = self.advance()
            if vt.kind != "string":
                self.fail(f"unexpected token: '{vt.text or '<EOF>'}'", tok=vt)
            if ref.type not in STRING_TYPES and ref.type not in ID_TYPES:
                self.fail(
                    f"invalid operator on {ref.type} field: LIKE",
                    code="INVALID_QUERY_FILTER_OPERATOR", tok=vt,
                )
            return Like(ref, like_pattern(_unescape(vt.text)))
        if self.tok.kind != "op":
            self.fail(f"unexpected token: '{self.tok.text or '<EOF>'}'")
        op = self.advance().text
        if op == "<>":
            op = "!="
        lit = self.literal(ref)
        if lit.kind == "null" and op not in ("=", "!="):
            self.fail(f"unexpected token: '{lit.text}'", code="MALFORMED_QUERY")
        if op in ("<", "<=", ">", ">=") and ref.type == "boolean":
            self.fail(
                f"invalid operator on boolean field: {op}", code="INVALID_QUERY_FILTER_OPERATOR"
            )
        return Compare(ref, op, lit)

    def value_list(self, ref: FieldRef) -> list[Literal]:
        self.expect_punct("(")
        if self.is_kw("select"):
            self.fail("the fake does not support semi-join subqueries")
        values = [self.literal(ref)]
        while self.tok.kind == "punct" and self.tok.text == ",":
            self.advance()
            values.append(self.literal(ref))
        self.expect_punct(")")
        return values

    def literal(self, ref: FieldRef) -> Literal:
        t = self.advance()
        kw = t.keyword
        lit: Literal
        if kw == "null":
            return Literal("null", None, t.text)
        if kw in ("true", "false"):
            lit = Literal("bool", kw == "true", t.text)
        elif t.kind == "string":
            lit = Literal("string", _unescape(t.text), t.text)
        elif t.kind == "number":
            lit = Literal("number", float(t.text), t.text)
        elif t.kind == "datetime":
            lit = Literal("datetime", parse_datetime(t.text), t.text)
        elif t.kind == "date":
            try:
                lit = Literal("date", dt.date.fromisoformat(t.text), t.text)
            except ValueError:
                self.fail(f"invalid date: {t.text}", tok=t)
                raise AssertionError from None  # pragma: no cover
        elif t.kind in ("ident", "dateliteral") and (rng := self.date_range(t.text)) is not None:
            lit = Literal("range", rng, t.text)
        else:
            self.fail(f"unexpected token: '{t.text or '<EOF>'}'", tok=t)
            raise AssertionError  # pragma: no cover
        self.check_kind(ref, lit, t)
        return lit

    def check_kind(self, ref: FieldRef, lit: Literal, t: Token) -> None:
        ftype = ref.type
        ok: bool
        if ftype == "datetime":
            ok = lit.kind in ("datetime", "range")
            expected = "dateTime"
        elif ftype == "date":
            ok = lit.kind in ("date", "range")
            expected = "date"
        elif ftype == "boolean":
            ok = lit.kind == "bool"
            expected = "boolean"
        elif ftype in NUMBER_TYPES:
            ok = lit.kind == "number"
            expected = "double" if ftype != "int" else "int"
        else:
            ok = lit.kind == "string"
            expected = "string"
        if ok:
            return
        if expected == "string":
            message = f"value of filter criterion for field '{ref.name}' must be of type string and should be enclosed in quotes"
        else:
            message = f"value of filter criterion for field '{ref.name}' must be of type {expected} and should not be enclosed in quotes"
        self.fail(message, code="INVALID_QUERY_FILTER_OPERATOR", tok=t)

    def date_range(self, text: str) -> tuple[dt.date, dt.date] | None:
        word, _, n_text = text.partition(":")
        word = word.upper()
        day = dt.timedelta(days=1)
        today = self.today
        if not n_text:
            return {
                "TODAY": (today, today + day),
                "YESTERDAY": (today - day, today),
                "TOMORROW": (today + day, today + 2 * day),
            }.get(word)
        n = int(n_text)
        if word == "LAST_N_DAYS":
            return (today - n * day, today + day)
        if word == "NEXT_N_DAYS":
            return (today + day, today + (n + 1) * day)
        if word == "N_DAYS_AGO":
            return (today - n * day, today - (n - 1) * day)
        return None

    def order_list(self) -> list[OrderItem]:
        items: list[OrderItem] = []
        while True:
            ft = self.advance()
            if ft.kind != "ident" or ft.keyword:
                self.fail(f"unexpected token: '{ft.text or '<EOF>'}'", tok=ft)
            ref = self.resolve(ft, filtering=True)
            descending = False
            if self.is_kw("asc", "desc"):
                descending = self.advance().keyword == "desc"
            nulls_first = not descending
            if self.is_kw("nulls"):
                self.advance()
                if not self.is_kw("first", "last"):
                    self.fail(f"unexpected token: '{self.tok.text or '<EOF>'}'")
                nulls_first = self.advance().keyword == "first"
            items.append(OrderItem(ref, descending, nulls_first))
            if not (self.tok.kind == "punct" and self.tok.text == ","):
                return items
            self.advance()


def like_pattern(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------
def parse_datetime(text: str) -> dt.datetime:
    """``2026-01-05T10:00:00Z`` / ``.000+0000`` / ``+01:00`` -> an aware datetime (UTC)."""
    s = text.strip().replace(" ", "+")
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    m = re.match(r"^(.*)([+-])(\d{2}):?(\d{2})$", s)
    if m:
        s = f"{m[1]}{m[2]}{m[3]}:{m[4]}"
    value = dt.datetime.fromisoformat(s)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def coerce(ftype: str, raw: Any) -> Any:
    """A stored JSON value as a comparable Python value of the field's type (None for null)."""
    if raw is None:
        return None
    try:
        if ftype == "datetime":
            return parse_datetime(str(raw))
        if ftype == "date":
            return dt.date.fromisoformat(str(raw)[:10])
        if ftype in NUMBER_TYPES:
            return float(raw)
        if ftype == "boolean":
            return bool(raw) if not isinstance(raw, str) else raw.lower() == "true"
    except (TypeError, ValueError):
        return None
    return str(raw)


def _norm_text(ftype: str, value: str) -> str:
    return value if ftype in ID_TYPES else value.casefold()


def _eq(ftype: str, value: Any, lit: Literal) -> bool:
    if lit.kind == "null":
        return value is None
    if value is None:
        return False
    if lit.kind == "range":
        return _in_range(ftype, value, lit.value)
    if ftype in ID_TYPES:
        a, b = str(value), str(lit.value)
        if len(a) != len(b) and 15 in (len(a), len(b)):
            return a[:15] == b[:15]
        return a == b
    if isinstance(value, str):
        return value.casefold() == str(lit.value).casefold()
    return value == _lit_value(ftype, lit)


def _lit_value(ftype: str, lit: Literal) -> Any:
    if lit.kind == "string":
        return _norm_text(ftype, lit.value)
    return lit.value


def _range_bounds(ftype: str, rng: tuple[dt.date, dt.date]) -> tuple[Any, Any]:
    start, end = rng
    if ftype == "datetime":
        return (
            dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC),
            dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC),
        )
    return start, end


def _in_range(ftype: str, value: Any, rng: tuple[dt.date, dt.date]) -> bool:
    lo, hi = _range_bounds(ftype, rng)
    return lo <= value < hi


def _compare(ftype: str, value: Any, op: str, lit: Literal) -> bool:
    if op == "=":
        return _eq(ftype, value, lit)
    if op == "!=":
        return not _eq(ftype, value, lit)
    if value is None or lit.kind == "null":
        return False
    if lit.kind == "range":
        lo, hi = _range_bounds(ftype, lit.value)
        return {"<": value < lo, "<=": value < hi, ">": value >= hi, ">=": value >= lo}[op]
    other = _lit_value(ftype, lit)
    if isinstance(value, str):
        value = _norm_text(ftype, value)
    return {"<": value < other, "<=": value <= other, ">": value > other, ">=": value >= other}[op]


Getter = Callable[[FieldRef], Any]


def matches(expr: Expr | None, get: Getter) -> bool:
    """Evaluate ``expr`` for one record; ``get`` returns a field's raw JSON value."""
    if expr is None:
        return True
    if isinstance(expr, BoolOp):
        if expr.op == "and":
            return all(matches(p, get) for p in expr.parts)
        return any(matches(p, get) for p in expr.parts)
    if isinstance(expr, Not):
        return not matches(expr.expr, get)
    value = coerce(expr.field.type, get(expr.field))
    if isinstance(expr, Compare):
        return _compare(expr.field.type, value, expr.op, expr.value)
    if isinstance(expr, InList):
        hit = any(_eq(expr.field.type, value, lit) for lit in expr.values)
        return not hit if expr.negate else hit
    if isinstance(expr, Like):
        return value is not None and expr.pattern.fullmatch(str(value)) is not None
    raise TypeError(f"unknown expression {expr!r}")  # pragma: no cover


def field_refs(expr: Expr | None) -> Iterable[FieldRef]:
    if expr is None:
        return
    if isinstance(expr, BoolOp):
        for p in expr.parts:
            yield from field_refs(p)
    elif isinstance(expr, Not):
        yield from field_refs(expr.expr)
    else:
        yield expr.field


def window_bounds(where: Expr | None, field: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The (lower, upper) datetime bounds the top-level conjuncts put on ``field`` (None: open)."""
    lo = hi = None
    for expr in top_level_conjuncts(where):
        if isinstance(expr, Compare) and not expr.field.hops and expr.field.name == field \
                and expr.value.kind == "datetime":
            if expr.op in (">", ">=", "="):
                lo = expr.value.value if lo is None else max(lo, expr.value.value)
            if expr.op in ("<", "<=", "="):
                hi = expr.value.value if hi is None else min(hi, expr.value.value)
    return lo, hi


def top_level_conjuncts(expr: Expr | None) -> list[Expr]:
    if expr is None:
        return []
    if isinstance(expr, BoolOp) and expr.op == "and":
        return list(expr.parts)
    return [expr]


def sort_key(item: OrderItem, raw: Any) -> tuple[int, Any]:
    """A key for ``sorted(..., reverse=item.descending)`` that honours NULLS FIRST/LAST."""
    value = coerce(item.field.type, raw)
    if isinstance(value, str):
        value = _norm_text(item.field.type, value)
    null_rank, value_rank = (0, 1) if item.nulls_first != item.descending else (1, 0)
    if value is None:
        return (null_rank, None)
    return (value_rank, value)


def order_records(items: list[Any], order_by: list[OrderItem], get: Callable[[Any, FieldRef], Any]) -> list[Any]:
    """Stable multi-key sort of ``items`` (already in Id order) by ``order_by``."""
    out = list(items)
    for item in reversed(order_by):
        out.sort(key=lambda rec, it=item: sort_key(it, get(rec, it.field)), reverse=item.descending)
    return out
