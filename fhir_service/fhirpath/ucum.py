"""A small UCUM unit algebra: enough to compare, convert and multiply the quantities met in clinical data.

Why not a library: the UCUM packages on PyPI are either heavy (pint + lark grammars, slow to import) or only
validate codes. FHIRPath needs two things: whether two units are comparable (same dimension) and the factor
between them. A unit is parsed into (factor to the coherent SI base, dimension exponents); special units with an
offset (Cel, [degF]) compare only with themselves; arbitrary units ([iU], U) form their own dimensions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

# dimension order: length, mass, time, current, temperature, amount, luminosity, then arbitrary dimensions
_DIMS = 7


@dataclass(frozen=True)
class Unit:
    """factor * (base units ^ dims); `arbitrary` names units that only compare with themselves."""

    factor: Decimal
    dims: tuple[int, ...]
    arbitrary: tuple[tuple[str, int], ...] = ()

    def __mul__(self, other: "Unit") -> "Unit":
        dims = tuple(a + b for a, b in zip(self.dims, other.dims))
        arbitrary = dict(self.arbitrary)
        for name, power in other.arbitrary:
            arbitrary[name] = arbitrary.get(name, 0) + power
        return Unit(self.factor * other.factor, dims, tuple(sorted((k, v) for k, v in arbitrary.items() if v)))

    def __pow__(self, power: int) -> "Unit":
        return Unit(self.factor ** power, tuple(d * power for d in self.dims),
                    tuple((k, v * power) for k, v in self.arbitrary))

    def same_dimension(self, other: "Unit") -> bool:
        return self.dims == other.dims and self.arbitrary == other.arbitrary


def _base(index: int | None, factor: str | Decimal = "1") -> Unit:
    dims = [0] * _DIMS
    if index is not None:
        dims[index] = 1
    return Unit(Decimal(factor), tuple(dims))


ONE = _base(None)
_M, _G, _S, _A, _K, _MOL, _CD = (_base(i) for i in range(7))


def _derived(expr: str, factor: str | Decimal = "1") -> Unit:
    unit = parse(expr)
    return Unit(unit.factor * Decimal(factor), unit.dims, unit.arbitrary)


_PREFIXES = {
    "Y": Decimal("1e24"), "Z": Decimal("1e21"), "E": Decimal("1e18"), "P": Decimal("1e15"), "T": Decimal("1e12"),
    "G": Decimal("1e9"), "M": Decimal("1e6"), "k": Decimal("1e3"), "h": Decimal("1e2"), "da": Decimal("1e1"),
    "d": Decimal("1e-1"), "c": Decimal("1e-2"), "m": Decimal("1e-3"), "u": Decimal("1e-6"), "n": Decimal("1e-9"),
    "p": Decimal("1e-12"), "f": Decimal("1e-15"), "a": Decimal("1e-18"), "z": Decimal("1e-21"), "y": Decimal("1e-24"),
}

#: atoms that take prefixes (metric) -> definition
_METRIC: dict[str, Unit] = {}
#: atoms without prefixes
_PLAIN: dict[str, Unit] = {}


def _define() -> None:
    _METRIC.update({"m": _M, "g": _G, "s": _S, "A": _A, "K": _K, "mol": _MOL, "cd": _CD, "rad": ONE, "sr": ONE})
    _METRIC["L"] = _METRIC["l"] = _derived("dm3")
    _METRIC["Hz"] = _derived("s-1")
    _METRIC["N"] = _derived("kg.m/s2")
    _METRIC["Pa"] = _derived("N/m2")
    _METRIC["J"] = _derived("N.m")
    _METRIC["W"] = _derived("J/s")
    _METRIC["C"] = _derived("A.s")
    _METRIC["V"] = _derived("J/C")
    _METRIC["Ohm"] = _derived("V/A")
    _METRIC["bar"] = _derived("Pa", "1e5")
    _METRIC["eq"] = _METRIC["mol"]
    _METRIC["osm"] = _METRIC["mol"]
    _METRIC["kat"] = _derived("mol/s")
    _METRIC["cal"] = _derived("J", "4.184")
    _METRIC["m[Hg]"] = _derived("kPa", "133.3220")
    _METRIC["m[H2O]"] = _derived("kPa", "9.80665")
    _METRIC["t"] = _derived("kg", "1000")
    _METRIC["U"] = Unit(Decimal(1), (0,) * _DIMS, (("U", 1),))
    _METRIC["[iU]"] = _METRIC["[IU]"] = Unit(Decimal(1), (0,) * _DIMS, (("[iU]", 1),))
    _PLAIN.update({
        "1": ONE, "%": Unit(Decimal("0.01"), ONE.dims), "[ppm]": Unit(Decimal("1e-6"), ONE.dims),
        "[ppb]": Unit(Decimal("1e-9"), ONE.dims), "[pi]": Unit(Decimal("3.14159265358979"), ONE.dims),
        "min": _derived("s", 60), "h": _derived("s", 3600), "d": _derived("s", 86400),
        "wk": _derived("s", 604800), "a": _derived("s", Decimal("31557600")),
        "mo": _derived("s", Decimal("2629800")),
        "[in_i]": _derived("cm", "2.54"), "[ft_i]": _derived("cm", "30.48"), "[yd_i]": _derived("cm", "91.44"),
        "[mi_i]": _derived("m", "1609.344"), "[lb_av]": _derived("g", "453.59237"),
        "[oz_av]": _derived("g", "28.349523125"), "[gr]": _derived("mg", "64.79891"),
        "[psi]": _derived("Pa", "6894.757293168"), "[drp]": _derived("mL", "0.05"),
        "[fth_i]": _derived("m", "1.8288"), "[degF]": Unit(Decimal(1), (0,) * _DIMS, (("[degF]", 1),)),
        "Cel": Unit(Decimal(1), (0,) * _DIMS, (("Cel", 1),)), "deg": Unit(Decimal("0.0174532925199433"), ONE.dims),
        "[arb'U]": Unit(Decimal(1), (0,) * _DIMS, (("[arb'U]", 1),)),
    })


_TOKEN = re.compile(r"\(|\)|\.|/|\{[^}]*\}|[^./(){}]+")
_EXPONENT = re.compile(r"^(.*?)([+-]?\d+)$")


def _atom(text: str) -> Unit:
    if text.startswith("10*") or text.startswith("10^"):
        return Unit(Decimal(10) ** int(text[3:]), ONE.dims)
    if text in _PLAIN:
        return _PLAIN[text]
    if text in _METRIC:
        return _METRIC[text]
    for length in (2, 1):
        prefix, rest = text[:length], text[length:]
        if prefix in _PREFIXES and rest in _METRIC:
            unit = _METRIC[rest]
            return Unit(unit.factor * _PREFIXES[prefix], unit.dims, unit.arbitrary)
    match = _EXPONENT.match(text)
    if match and match.group(1) and not match.group(1).endswith("*") and not text.isdigit():
        return _atom(match.group(1)) ** int(match.group(2))
    if text.isdigit():
        return Unit(Decimal(text), ONE.dims)
    raise ValueError(f"unknown UCUM unit {text!r}")


@lru_cache(maxsize=1024)
def parse(expression: str) -> Unit:
    """Parse a UCUM unit expression ('mg/dL', '10*9/L', 'kg.m/s2', '{cells}/uL'); ValueError if unknown."""
    if not _METRIC:
        _define()
    tokens = _TOKEN.findall(expression)
    if "".join(tokens) != expression or not tokens:
        raise ValueError(f"invalid UCUM unit {expression!r}")
    position = 0

    def term() -> Unit:
        nonlocal position
        result = ONE
        divide = False
        if position < len(tokens) and tokens[position] == "/":
            divide = True
            position += 1
        while position < len(tokens):
            token = tokens[position]
            if token == ")":
                break
            position += 1
            if token == "(":
                inner = term()
                position += 1  # ")"
                component = inner
            elif token.startswith("{"):
                component = ONE
            elif token in (".", "/"):
                divide = token == "/"
                continue
            else:
                component = _atom(token.split("{")[0]) if not token.startswith("{") else ONE
            result = result * (component ** -1 if divide else component)
        return result

    return term()


def comparable(a: str, b: str) -> bool:
    try:
        return parse(a).same_dimension(parse(b))
    except ValueError:
        return False


def convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal | None:
    """value in from_unit expressed in to_unit, or None when the units are not comparable or unknown."""
    if from_unit == to_unit:
        return value
    try:
        source, target = parse(from_unit), parse(to_unit)
    except ValueError:
        return None
    if not source.same_dimension(target):
        return None
    return value * source.factor / target.factor
