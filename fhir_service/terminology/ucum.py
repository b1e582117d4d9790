"""UCUM (http://unitsofmeasure.org) checked by grammar, not by a list: `validate_ucum('mg/kg/d')`.

The parser is `ucumvert` (PyPI, MIT): a Lark grammar generated from the official `ucum-essence.xml`
(UCUM 2.2), i.e. every prefix and unit atom of UCUM, with the full syntax (`.`, `/`, exponents, factors,
`10*9`, parentheses, `{annotations}`), case-sensitive as UCUM c/s requires. Parsing is Earley (about
0.5 ms a unit), so results are cached per unit string; the parser is built on first use (~30 ms).

`ucum_dimension` reduces a unit to its physical dimension through ucumvert's pint registry; it serves the
`canonical` filter of `all-distance-units` / `all-time-units` and is loaded only when such a value set is
checked (~0.5 s once).
"""
from __future__ import annotations

import functools
import re
import threading
from typing import Any

UCUM_SYSTEM = "http://unitsofmeasure.org"

_lock = threading.Lock()
_parse_lock = threading.Lock()
_parser: Any = None
_registry: Any = None


class UcumUnavailable(RuntimeError):
    """The UCUM parser package is not installed: UCUM codes cannot be checked locally."""


def _get_parser() -> Any:
    global _parser
    if _parser is None:
        with _lock:
            if _parser is None:
                try:
                    from ucumvert import get_ucum_parser
                except ImportError as exc:  # pragma: no cover - depends on the environment
                    raise UcumUnavailable("the UCUM parser (PyPI package 'ucumvert') is not installed") from exc
                _parser = get_ucum_parser()
    return _parser


@functools.lru_cache(maxsize=8192)
def validate_ucum(unit_code: str) -> str | None:
    """None when `unit_code` is a valid UCUM (case-sensitive) expression, else a message saying why not.

    Raises UcumUnavailable when the parser package is missing (the caller reports "not checkable").
    """
    if not isinstance(unit_code, str) or not unit_code:
        return "The UCUM unit is empty"
    if unit_code != unit_code.strip() or any(ch.isspace() for ch in unit_code):
        return f"'{unit_code}' is not a valid UCUM unit: UCUM units contain no spaces"
    if not unit_code.isascii():
        return f"'{unit_code}' is not a valid UCUM unit: UCUM units are plain ASCII (use 'u' for micro, 'Cel' for °C)"
    parser = _get_parser()
    from lark.exceptions import LarkError, UnexpectedInput

    try:
        with _parse_lock:  # one Lark parser shared by all threads: parse one unit at a time (results are cached)
            parser.parse(unit_code)
    except UnexpectedInput as exc:
        pos = getattr(exc, "pos_in_stream", None)
        if isinstance(pos, int) and 0 <= pos < len(unit_code):
            detail = f"unexpected '{unit_code[pos]}' at position {pos + 1}"
        else:
            detail = "the expression is incomplete"
        return f"'{unit_code}' is not a valid UCUM unit: {detail}{_hint(unit_code)}"
    except LarkError as exc:
        return f"'{unit_code}' is not a valid UCUM unit: {exc}"
    return None


_HINTS = {"mcg": "ug", "cc": "mL", "hr": "h", "hrs": "h", "sec": "s", "Kg": "kg", "KG": "kg", "day": "d",
          "days": "d", "mins": "min", "IU": "[IU]", "degC": "Cel", "degF": "[degF]", "mmHg": "mm[Hg]"}


def _hint(unit_code: str) -> str:
    """Point at the usual mistakes (`mcg` for `ug`, `mmHg` for `mm[Hg]`) when one occurs in the unit."""
    for token in re.split(r"[./()]", unit_code):
        if token in _HINTS and token != _HINTS[token]:
            return f" (UCUM writes '{token}' as '{_HINTS[token]}')"
    return ""


def ucum_dimension(unit_code: str) -> str | None:
    """The physical dimension of a valid UCUM unit (`mm` -> `[length]`), or None when it cannot be reduced."""
    return _dimension(unit_code)


@functools.lru_cache(maxsize=4096)
def _dimension(unit_code: str) -> str | None:
    global _registry
    if validate_ucum(unit_code) is not None:
        return None
    with _lock:
        if _registry is None:
            from ucumvert import PintUcumRegistry

            _registry = PintUcumRegistry()
        try:
            quantity = _registry.from_ucum(unit_code)
            return str(quantity.dimensionality)
        except Exception:  # pint raises many unrelated types for units it cannot reduce (pH, annotations)
            return None
