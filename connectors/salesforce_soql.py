"""SOQL literals and Salesforce value typing for the Salesforce connector.

Every literal that goes into a SOQL string is produced here from a Python value: datetimes
from ``datetime`` objects (never from strings the API returned), strings through
:func:`soql_quote`. Values coming back (REST JSON or Bulk 2.0 CSV) are typed by the field's
describe type, so that both paths give identical rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from typing import Any

from connectors.values import parse_money

_ESCAPES = {
    "\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
    "\b": "\\b", "\f": "\\f",
}


def soql_quote(value: str) -> str:
    """A SOQL string literal: ``O'Brien`` -> ``'O\\'Brien'`` (backslash escapes, as the SOQL
    reference lists them). Every string that reaches a SOQL statement goes through here."""
    if not isinstance(value, str):
        raise TypeError(f"soql_quote expects a str, got {type(value).__name__}")
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in value) + "'"


def soql_datetime(value: dt.datetime) -> str:
    """A SOQL datetime literal (unquoted, UTC, milliseconds): ``2026-01-05T10:00:00.000Z``.
    Naive datetimes are taken as UTC (the warehouse stores naive UTC)."""
    if not isinstance(value, dt.datetime):
        raise TypeError(f"soql_datetime expects a datetime, got {type(value).__name__}")
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def soql_date(value: dt.date) -> str:
    """A SOQL date literal (unquoted): ``2026-01-05``."""
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat()


_DT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime(text: str) -> dt.datetime:
    """``2024-03-31T18:00:01.000+0000`` (REST), ``...Z`` (Bulk CSV) or ``...+00:00`` -> naive UTC."""
    m = _DT_RE.match(text.strip())
    if not m:
        raise ValueError(f"not a Salesforce datetime: {text!r}")
    year, month, day, hour, minute, second, frac, tz = m.groups()
    micro = int((frac or "0").ljust(6, "0")[:6])
    value = dt.datetime(int(year), int(month), int(day), int(hour), int(minute),
                        int(second or 0), micro)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        value -= sign * offset
    return value


def iso_z(value: dt.datetime) -> str:
    """The cursor's stored form (naive UTC -> ``...Z`` with milliseconds)."""
    return soql_datetime(value)


def aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def convert(ftype: str, value: Any) -> Any:
    """One field value, REST JSON or Bulk CSV, to its Python type by describe ``type``.
    Empty strings are null (Bulk CSV cannot tell them apart; Salesforce stores no empty
    strings). Raises ValueError on a value that does not fit its type (the record is then
    quarantined)."""
    if value is None:
        return None
    if isinstance(value, str) and value == "":
        return None
    if isinstance(value, dict):
        # compound or relationship value: never selected, but never crash on one either
        raise ValueError(f"unexpected nested value for a {ftype} field")
    if ftype == "datetime":
        return parse_datetime(str(value))
    if ftype == "date":
        return dt.date.fromisoformat(str(value)[:10])
    if ftype == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"not a boolean: {value!r}")
    if ftype == "currency":
        return parse_money(value)        # the one money rule of every source
    if ftype in ("double", "percent"):
        if isinstance(value, bool):
            raise ValueError(f"not a number: {value!r}")
        return float(value)
    if ftype in ("int", "long"):
        if isinstance(value, bool):
            raise ValueError(f"not an integer: {value!r}")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"not an integer: {value!r}")
            return int(value)
        text = str(value).strip()
        if "." in text or "e" in text.lower():
            number = float(text)
            if not number.is_integer():
                raise ValueError(f"not an integer: {value!r}")
            return int(number)
        return int(text)
    if isinstance(value, bool):          # anyType (history Old/NewValue) and friends
        return "true" if value else "false"
    return str(value)


_TYPED = {"datetime", "date", "boolean", "currency", "double", "percent", "int", "long"}


def converter(ftype: str) -> Callable[[Any], Any]:
    """:func:`convert` for one field type, with the common value — text, or a datetime as
    text — taken without the type dispatch: a page's Python time is mostly this, once per
    value (docs/PERFORMANCE.md, "Profiles"). Any other value goes through :func:`convert`,
    so the result (and every error) is the same."""
    if ftype == "datetime":
        def datetime_value(value: Any) -> Any:
            if type(value) is str and value:
                return parse_datetime(value)
            return convert(ftype, value)
        return datetime_value
    if ftype not in _TYPED:
        def text_value(value: Any) -> Any:
            if type(value) is str:
                return value or None
            return convert(ftype, value)
        return text_value
    return functools.partial(convert, ftype)
