"""The rules every source shares for a value it cannot store as given (docs/RELIABILITY.md,
"Hostile inputs"). Each value ends one of three ways: normalised, quarantined with its reason
(a :class:`ValueError` here; the caller names the record), or stored as is.

* money: :func:`parse_money`, the one rule for HubSpot's strings, Salesforce's JSON numbers and
  Bulk CSV text: thousands separators and a currency sign are accepted (``1,234.50``,
  ``$1234``), ``NaN``/``Infinity``/text are not, nor anything of 10^13 or more (which also
  keeps every value within the raw layer's ``DECIMAL(18,2)``);
* text: :func:`clean_text` replaces lone UTF-16 surrogates (which no UTF-8 file can hold) with
  U+FFFD; the writer counts the record (``<schema>._repaired``);
* integers: :func:`fits_bigint`; the writer quarantines a value beyond DuckDB's ``BIGINT``.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

MONEY_TYPE = "DECIMAL(18,2)"             # the raw layer's money columns
# |amount| must stay below ten trillion, in any currency: a larger amount or quota is a typo,
# and the marts, which add amounts in double precision, are exact to the cent only while the
# totals stay below ~9x10^13. (The raw type itself would hold up to 10^16.)
MONEY_LIMIT = Decimal(10) ** 13
CENT = Decimal("0.01")
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1

# Unicode white space and the invisible format characters that survive a plain trim()
# (zero-width space/joiners, word joiner, BOM, Mongolian vowel separator).
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u180e"
_SURROGATE = re.compile("[\ud800-\udfff]")
_CURRENCY_SIGNS = "$€£¥"
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_money(value: Any) -> Decimal | None:
    """A money amount -> Decimal rounded to the cent, None when empty; ValueError (the record
    is quarantined with it) when it is not a finite number below 10^13."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int | float | Decimal):
        text = str(value)
    else:
        text = "".join(ch for ch in str(value) if ch not in INVISIBLE).strip()
        if not text:
            return None
        sign = ""
        if text[0] in "+-":
            sign, text = text[0], text[1:].lstrip()
        text = text.lstrip(_CURRENCY_SIGNS).strip()
        if _GROUPED.match(text):
            text = text.replace(",", "")
        text = sign + text
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {_short(value)}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite number: {_short(value)}")
    if abs(number) >= MONEY_LIMIT:
        raise ValueError(f"out of range for money (below 10^13): {_short(value)}")
    cents = number.quantize(CENT, rounding=ROUND_HALF_UP)
    return cents.copy_abs() if cents.is_zero() else cents     # never "-0.00"


def has_surrogates(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def clean_text(text: str) -> str:
    """``text`` with every lone UTF-16 surrogate replaced by U+FFFD (valid UTF-8 again)."""
    return _SURROGATE.sub("\ufffd", text)


def fits_bigint(value: int) -> bool:
    return BIGINT_MIN <= value <= BIGINT_MAX


def decimal_bounds(sql_type: str) -> Decimal | None:
    """The exclusive magnitude limit of a ``DECIMAL(p,s)`` column type, None for other types."""
    m = re.fullmatch(r"\s*DECIMAL\((\d+),\s*(\d+)\)\s*", sql_type.upper())
    return Decimal(10) ** (int(m[1]) - int(m[2])) if m else None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
