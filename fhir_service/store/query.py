"""Search parameters -> SQL conditions on the resource table (one condition per `name=value` pair).

Semantics (FHIR R4 3.1.1.4/3.1.1.5): repeated parameters AND, comma-separated values OR; prefixes eq ne gt lt
ge le sa eb ap on dates (ranges with the value's implicit precision), numbers and quantities (eq/ne/ap use the
precision of the given number: `100` means [99.5, 100.5)); modifiers :missing :not :exact :contains :text
:of-type :below and `:[Type]` on references; chained parameters (`subject:Patient.name=x`) and reverse
chaining (`_has:Observation:patient:code=x`) become sub-selects over the reference index.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from sqlalchemy import and_, false, func, not_, or_, select, true, tuple_
from sqlalchemy.sql import ColumnElement

from fhir_service.store.dates import MAX_US, DateFormatError, date_range, now_us
from fhir_service.store.indexer import normalize_string, parse_reference
from fhir_service.store.repository import InvalidSearch
from fhir_service.store.schema import Tables
from fhir_service.store.search_params import SearchParam, SearchParamRegistry

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_PREFIX_RE = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[-+.\d])")
MODIFIERS_BY_TYPE = {
    "string": {"exact", "contains", "missing"},
    "token": {"not", "text", "missing", "of-type", "in", "not-in"},
    "date": {"missing"},
    "number": {"missing"},
    "quantity": {"missing"},
    "uri": {"below", "missing"},
    "reference": {"missing", "identifier"},  # plus :[Type]
}
MAX_VALUE_SET_CODES = 5000
CONTROL_PARAMS = frozenset({"_count", "_sort", "_include", "_revinclude", "_total", "_summary", "_elements",
                            "_format", "_pretty", "_cursor", "_contained", "_containedType", "_type"})


def _split_unescaped(text: str, separator: str, keep_escapes: bool = False) -> list[str]:
    """`text` split on `separator` where it is not escaped by a backslash (FHIR search escaping); the
    backslashes are dropped, or kept with `keep_escapes` for parts that are split again later."""
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
            if keep_escapes:
                current.append(ch)
        elif ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def split_values(raw: str) -> list[str]:
    """Comma-separated OR values; `\\,` is a literal comma."""
    return _split_unescaped(raw, ",")


def split_token(value: str) -> list[str]:
    """`system|code` split on unescaped bars (`\\|` is a literal bar)."""
    return _split_unescaped(value, "|")


def split_dollar(value: str) -> list[str]:
    """Composite components: split on unescaped `$` (escapes kept: each component is parsed on its own)."""
    return _split_unescaped(value, "$", keep_escapes=True)


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def split_prefix(value: str) -> tuple[str, str]:
    match = _PREFIX_RE.match(value)
    return (match.group(1), value[2:]) if match else ("eq", value)


def decimal_range(text: str, what: str) -> tuple[Decimal, Decimal, Decimal]:
    """(value, low, high) of a search number with its implicit precision: `100` -> [99.5, 100.5)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidSearch(f"{what}: {text!r} is not a number") from None
    if not number.is_finite() or abs(number) > Decimal("1e300") or (number and abs(number) < Decimal("1e-300")):
        raise InvalidSearch(f"{what}: {text!r} is not a number this server can compare")
    exponent = number.as_tuple().exponent
    half = Decimal(5) * Decimal(10) ** (int(exponent) - 1)  # type: ignore[arg-type]
    return number, number - half, number + half


# which parameter drives a search from its index rows (see IndexMatch): the kinds whose matches are usually
# fewest first (a reference names one target; a code is one of many; ranges and prefixes match widely)
DRIVER_RANK = {"reference": 0, "token": 1, "uri": 2, "string": 3, "number": 4, "quantity": 4, "date": 5}
RANGE_KINDS = frozenset({"date", "number", "quantity"})


@dataclass
class IndexMatch:
    """What a plain parameter asks of one index table: some row of `table` for (resource type, `code`) that
    satisfies `match`. Kept apart from the SQL around it so that a search can use it three ways: as
    `rid IN (rows)` (any plan), as the table the search is driven from (`FROM idx JOIN resource ... ORDER
    BY idx.rid`: a page reads only its own rows), or as a correlated EXISTS probe of each candidate."""

    table: Any
    resource_type: str
    code: str  # the `param` column: the parameter's code, or a derived one (`identifier:of-type`)
    match: ColumnElement[bool]
    kind: str  # the parameter type
    mergeable: bool  # a range without modifier: may share its index row with other ranges (see merged)
    # dates: the match built on other (low, high) expressions, and the range-scan bounds it implies on each
    # column (`low < low_lt`, `high > high_gt`), so that a planner without histograms (SQLite) can be told
    # which of the two indexes to scan (see Session._narrowest_side)
    rebuild: Callable[[Any, Any], ColumnElement[bool]] | None = None
    low_lt: int | None = None
    high_gt: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        t = self.table
        return [t.c.res_type == self.resource_type, t.c.param == self.code, self.match]

    def rids(self) -> Any:
        return select(self.table.c.rid).where(*self.conditions())

    def exists(self, R: Any) -> ColumnElement[bool]:
        # correlated on R only: the table itself may be the one the outer query is driven from
        return (select(self.table.c.rid).where(self.table.c.rid == R.c.rid, *self.conditions())
                .correlate(R).exists())

    def merged(self, others: list["IndexMatch"]) -> "IndexMatch":
        """All of these conditions on ONE index row. The spec ANDs repeated parameters independently (each
        may be met by another value of the resource); for a resource with at most one value the two are the
        same, and one row range `low < b AND high > a` is one index range scan instead of two large sets
        intersected. The caller merges only parameters no stored resource has several values of."""
        parts = [self, *others]
        rebuilds = [part.rebuild for part in parts if part.rebuild is not None]

        def rebuild_all(low: Any, high: Any) -> ColumnElement[bool]:
            return and_(*[build(low, high) for build in rebuilds])
        rebuild = rebuild_all if len(rebuilds) == len(parts) else None
        lows = [part.low_lt for part in parts if part.low_lt is not None]
        highs = [part.high_gt for part in parts if part.high_gt is not None]
        return IndexMatch(self.table, self.resource_type, self.code, and_(*[part.match for part in parts]),
                          self.kind, True, rebuild, min(lows) if lows else None, max(highs) if highs else None)

    def narrowed(self, side: str) -> "IndexMatch":
        """This date match with only `side`'s index usable (the other column wrapped in `+ 0`) and its bound
        stated, so that the range scan is the narrower one."""
        assert self.rebuild is not None
        t = self.table
        if side == "low":
            match = and_(t.c.low < self.low_lt, self.rebuild(t.c.low, t.c.high + 0))
        else:
            match = and_(t.c.high > self.high_gt, self.rebuild(t.c.low + 0, t.c.high))
        return IndexMatch(t, self.resource_type, self.code, match, self.kind, self.mergeable)


class SearchBuilder:
    """Builds WHERE conditions against an aliased resource table `R` (correlated on R.rid / R.res_id)."""

    def __init__(self, tables: Tables, registry: SearchParamRegistry, strict: bool = False) -> None:
        self.t = tables
        self.registry = registry
        self.strict = strict
        self.ignored: list[str] = []

    # -- entry point -------------------------------------------------------------------------------------
    def condition(self, resource_type: str, R: Any, key: str, raw: str) -> ColumnElement[bool] | None:
        """The condition for one `key=raw` query pair, or None when the parameter is ignored (lenient)."""
        if key.startswith("_has:"):
            return self._has(resource_type, R, key, raw)
        name, _, modifier = key.partition(":")
        if "." in key:
            return self._chain(resource_type, R, key, raw)
        if name == "_id":
            return self._id(R, modifier, raw)
        if name == "_lastUpdated":
            return self._last_updated(R, modifier, raw)
        if name in ("_text", "_content"):
            return self._full_text(resource_type, R, name, modifier, raw)
        param = self.registry.get(resource_type, name)
        if param is None:
            return self._unknown(f"unknown search parameter {name!r} for {resource_type}")
        if param.type == "composite":
            if modifier:
                raise InvalidSearch(f"modifier :{modifier} is not supported on composite parameter {name!r}")
            return self._composite(resource_type, R, param, raw)
        if modifier == "missing":
            return self._missing(param, resource_type, R, raw)
        values = self._checked_values(param, name, modifier, key, raw)
        if param.type == "token" and modifier in ("not", "not-in"):
            table = self.t.token
            inner = "" if modifier == "not" else "in"
            match = or_(*[self._token(table, param.code, v, inner) for v in values])
            return R.c.rid.not_in(self._rids(table, resource_type, param.code, match))
        return R.c.rid.in_(self._index_match(resource_type, param, modifier, values).rids())

    def index_match(self, resource_type: str, key: str, raw: str) -> IndexMatch | None:
        """The index rows a plain parameter (a value the resource must have) asks for; None for everything
        else (special, chained, negated, :missing, composite and unknown parameters: see `condition`)."""
        if key.startswith("_has:") or "." in key:
            return None
        name, _, modifier = key.partition(":")
        if name in ("_id", "_lastUpdated", "_text", "_content") or modifier in ("missing", "not", "not-in"):
            return None
        param = self.registry.get(resource_type, name)
        if param is None or param.type == "composite":
            return None
        values = self._checked_values(param, name, modifier, key, raw)
        return self._index_match(resource_type, param, modifier, values)

    def _checked_values(self, param: SearchParam, name: str, modifier: str, key: str, raw: str) -> list[str]:
        if modifier and modifier not in MODIFIERS_BY_TYPE.get(param.type, set()):
            if not (param.type == "reference" and modifier[:1].isupper()):
                raise InvalidSearch(f"modifier :{modifier} is not supported on {param.type} parameter {name!r}")
        values = split_values(raw)
        if not any(values):
            raise InvalidSearch(f"search parameter {key!r} has no value")
        return values

    def _index_match(self, resource_type: str, param: SearchParam, modifier: str, values: list[str]) -> IndexMatch:
        if param.type == "reference" and modifier == "identifier":
            tokens = self.t.token
            match = or_(*[self._token(tokens, param.code, v, "") for v in values])
            return IndexMatch(tokens, resource_type, f"{param.code}:identifier", match, "token", False)
        table = self.t.index_tables()[param.type]
        build: Callable[..., ColumnElement[bool]] = getattr(self, f"_{param.type}")
        code = f"{param.code}:of-type" if modifier == "of-type" else param.code
        match = or_(*[build(table, param.code, v, modifier) for v in values])
        result = IndexMatch(table, resource_type, code, match, param.type, param.type in RANGE_KINDS and not modifier)
        if param.type == "date":
            def rebuild(low: Any, high: Any) -> ColumnElement[bool]:
                return or_(*[self._date_match(low, high, v, code) for v in values])
            result.rebuild = rebuild
            if len(values) == 1:
                result.low_lt, result.high_gt = self._date_bounds(values[0])
        return result

    @staticmethod
    def _date_bounds(value: str) -> tuple[int | None, int | None]:
        """The range-scan bounds one date value implies: (X of `low < X`, Y of `high > Y`), each None when
        the condition implies none (every range has low < high)."""
        prefix, text = split_prefix(value)
        try:
            s_low, s_high = date_range(text)
        except DateFormatError:
            return None, None
        margin = abs(now_us() - s_low) // 10
        return {"eq": (s_high, s_low), "gt": (None, s_high), "lt": (s_low, None), "ge": (None, s_low),
                "le": (s_high, None), "sa": (None, s_high), "eb": (s_low, None),
                "ap": (min(s_high + margin, MAX_US), s_low - margin)}.get(prefix, (None, None))

    def _unknown(self, message: str) -> None:
        if self.strict:
            raise InvalidSearch(message)
        self.ignored.append(message)
        return None

    def _rids(self, table: Any, resource_type: str, code: str, match: ColumnElement[bool]) -> Any:
        return select(table.c.rid).where(table.c.res_type == resource_type, table.c.param == code, match)

    def _missing(self, param: SearchParam, resource_type: str, R: Any, raw: str) -> ColumnElement[bool]:
        if raw not in ("true", "false"):
            raise InvalidSearch(f":missing takes true or false, not {raw!r}")
        table = self.t.index_tables()[param.type]
        present = select(table.c.rid).where(table.c.res_type == resource_type, table.c.param == param.code)
        return R.c.rid.not_in(present) if raw == "true" else R.c.rid.in_(present)

    # -- special parameters ------------------------------------------------------------------------------
    def _id(self, R: Any, modifier: str, raw: str) -> ColumnElement[bool]:
        if modifier == "missing":
            return false() if raw == "true" else true()
        values = split_values(raw)
        if modifier == "not":
            return R.c.res_id.not_in(values)
        if modifier:
            raise InvalidSearch(f"modifier :{modifier} is not supported on _id")
        return R.c.res_id.in_(values)

    def _last_updated(self, R: Any, modifier: str, raw: str) -> ColumnElement[bool]:
        if modifier:
            raise InvalidSearch(f"modifier :{modifier} is not supported on _lastUpdated")
        return or_(*[self._date_match(R.c.updated_us, R.c.updated_us + 1, v, "_lastUpdated")
                     for v in split_values(raw)])

    def _full_text(self, resource_type: str, R: Any, name: str, modifier: str, raw: str) -> ColumnElement[bool]:
        """`_text` (the narrative) and `_content` (the whole resource): every word given must occur, in any
        case; comma-separated values OR. A plain-text search, not a search-engine query language."""
        if modifier:
            raise InvalidSearch(f"modifier :{modifier} is not supported on {name}")
        options = []
        for value in split_values(raw):
            # the narrative index is accent-free; the stored JSON is matched as written, lower-cased
            words = (normalize_string(value) if name == "_text" else value.lower()).split()
            if not words:
                raise InvalidSearch(f"{name} needs words to search for")
            if name == "_text":
                table = self.t.string
                conds = [select(table.c.rid).where(table.c.res_type == resource_type, table.c.param == "_text",
                                                   table.c.value_norm.like(f"%{like_escape(w)}%", escape="\\"))
                         for w in words]
                options.append(and_(*[R.c.rid.in_(c) for c in conds]))
            else:
                options.append(and_(*[func.lower(R.c.content).like(f"%{like_escape(w)}%", escape="\\")
                                      for w in words]))
        return or_(*options)

    # -- per type ------------------------------------------------------------------------------------------
    def _string(self, table: Any, code: str, value: str, modifier: str) -> ColumnElement[bool]:
        if modifier == "exact":
            return table.c.value == value
        norm = like_escape(normalize_string(value))
        if modifier == "contains":
            return table.c.value_norm.like(f"%{norm}%", escape="\\")
        return table.c.value_norm.like(f"{norm}%", escape="\\")

    def _token(self, table: Any, code: str, value: str, modifier: str) -> ColumnElement[bool]:
        if modifier == "in":
            return self._in_value_set(table, value)
        if modifier == "text":
            return func.lower(table.c.text).like(f"{like_escape(value.lower())}%", escape="\\")
        parts = split_token(value)
        if modifier == "of-type":
            if len(parts) != 3 or not all(parts):
                raise InvalidSearch(f":of-type takes system|code|value, not {value!r}")
            return and_(table.c.system == parts[0], table.c.code == f"{parts[1]}|{parts[2]}")
        if len(parts) == 1:
            return table.c.code == value
        system, token_code = parts[0], "|".join(parts[1:])
        if system == "":
            return and_(table.c.system.is_(None), table.c.code == token_code)
        if token_code == "":
            return table.c.system == system
        return and_(table.c.system == system, table.c.code == token_code)

    def _in_value_set(self, table: Any, url: str) -> ColumnElement[bool]:
        """`:in` / `:not-in`: membership in a ValueSet the loaded packages enumerate completely."""
        from fhir_service.terminology.service import terminology_for

        expansion = terminology_for(self.registry.definitions).expand(url)
        if expansion is None:
            raise InvalidSearch(f":in: the value set {url!r} is not known to this server")
        if expansion.incomplete or expansion.unresolved or expansion.syntax:
            raise InvalidSearch(f":in: the members of {url!r} cannot be enumerated here "
                                f"({', '.join(sorted(expansion.incomplete)) or 'incomplete expansion'})")
        pairs = [pair for pair in expansion.codes if pair not in expansion.excluded]
        if not pairs:
            return false()
        if len(pairs) > MAX_VALUE_SET_CODES:
            raise InvalidSearch(f":in: {url!r} has {len(pairs)} codes; at most {MAX_VALUE_SET_CODES} are searched")
        # a bare `code` element (Patient.gender) is indexed without a system: its binding supplies it
        bare = and_(table.c.system.is_(None), table.c.code.in_(sorted({code for _, code in pairs})))
        return or_(tuple_(table.c.system, table.c.code).in_(pairs), bare)

    def _uri(self, table: Any, code: str, value: str, modifier: str) -> ColumnElement[bool]:
        if modifier == "below":
            return table.c.value.like(f"{like_escape(value)}%", escape="\\")
        return table.c.value == value

    def _reference(self, table: Any, code: str, value: str, modifier: str) -> ColumnElement[bool]:
        type_filter = modifier if modifier and modifier[:1].isupper() else None
        if "://" in value or value.startswith("urn:"):
            return table.c.url == value.split("|")[0]
        ref_type, ref_id = parse_reference(value)
        if ref_type is None:
            if "/" in value:
                raise InvalidSearch(f"{code}: {value!r} is not a reference (Type/id, id or URL)")
            ref_id = value
        elif type_filter and type_filter != ref_type:
            return false()
        cond = table.c.target_id == ref_id
        if ref_type or type_filter:
            cond = and_(cond, table.c.target_type == (ref_type or type_filter))
        return cond

    def _date(self, table: Any, code: str, value: str, modifier: str) -> ColumnElement[bool]:
        return self._date_match(table.c.low, table.c.high, value, code)

    def _date_match(self, low: Any, high: Any, value: str, code: str) -> ColumnElement[bool]:
        prefix, text = split_prefix(value)
        try:
            s_low, s_high = date_range(text)
        except DateFormatError as exc:
            raise InvalidSearch(f"{code}: {exc}") from None
        within = and_(low >= s_low, high <= s_high)
        if prefix == "eq":  # `low < s_high` is implied (low < high): it bounds the range scan on low
            return and_(low < s_high, within)
        if prefix == "ne":
            return not_(within)
        if prefix == "gt":
            return high > s_high
        if prefix == "lt":
            return low < s_low
        # ge/le: the first, redundant term is implied by the rest (low < high) and lets an index range-scan
        if prefix == "ge":
            return and_(high > s_low, or_(high > s_high, within))
        if prefix == "le":
            return and_(low < s_high, or_(low < s_low, within))
        if prefix == "sa":
            return low >= s_high
        if prefix == "eb":
            return high <= s_low
        # ap: overlap with the range widened by 10% of its distance from now (at least the range itself)
        margin = abs(now_us() - s_low) // 10
        return and_(low < min(s_high + margin, MAX_US), high > s_low - margin)

    def _number(self, table: Any, code: str, value: str, modifier: str) -> ColumnElement[bool]:
        return self._number_match(table.c.value, value, code)

    def _number_match(self, column: Any, value: str, code: str) -> ColumnElement[bool]:
        prefix, text = split_prefix(value)
        number, low, high = decimal_range(text, code)
        n, lo, hi = float(number), float(low), float(high)
        if prefix == "eq":
            return and_(column >= lo, column < hi)
        if prefix == "ne":
            return or_(column < lo, column >= hi)
        if prefix in ("gt", "sa"):
            return column > n
        if prefix in ("lt", "eb"):
            return column < n
        if prefix == "ge":
            return column >= n
        if prefix == "le":
            return column <= n
        margin = abs(n) * 0.1
        return and_(column >= n - margin, column <= n + margin)

    def _quantity(self, table: Any, code: str, value: str, modifier: str) -> ColumnElement[bool]:
        parts = split_token(value)
        if len(parts) not in (1, 3):
            raise InvalidSearch(f"{code}: quantity is [prefix]number|system|code, not {value!r}")
        cond = self._number_match(table.c.value, parts[0], code)
        if len(parts) == 3:
            system, unit = parts[1], parts[2]
            if system:
                cond = and_(cond, table.c.system == system)
            if unit:  # the code, or else the human unit (case-insensitively), as other servers match
                cond = and_(cond, or_(table.c.code == unit, func.lower(table.c.unit) == unit.lower()))
        return cond

    # -- composite --------------------------------------------------------------------------------------------
    def _composite_alternatives(self, param: SearchParam, raw: str) -> list[list[list[str]]]:
        """Alternatives, each a list of components, each a list of OR values.

        `a$b,c$d` is two alternatives (a AND b) OR (c AND d). When the `$` count shows one composite whose
        components carry commas (`a,b$c`), the commas are ORs within a component, as fhir-candle reads it."""
        width = len(param.components)
        dollars = split_dollar(raw)
        if len(dollars) == width and any("," in part for part in dollars):
            return [[split_values(part) for part in dollars]]
        return [[[part] for part in split_dollar(alternative)] for alternative in split_values(raw)]

    def _composite(self, resource_type: str, R: Any, param: SearchParam, raw: str) -> ColumnElement[bool]:
        tables = self.t.index_tables()
        options = []
        for alternative in self._composite_alternatives(param, raw):
            if len(alternative) > len(param.components):
                raise InvalidSearch(f"{param.code}: {len(alternative)} components given, "
                                    f"{len(param.components)} expected")
            aliases = []
            conds = []
            for position, values in enumerate(alternative):
                kind = param.components[position][0]
                alias = tables[kind].alias()
                build: Callable[..., ColumnElement[bool]] = getattr(self, f"_{kind}")
                conds.append(and_(alias.c.res_type == resource_type, alias.c.param == f"{param.code}${position}",
                                  or_(*[build(alias, param.code, v, "") for v in values])))
                aliases.append(alias)
            first = aliases[0]
            stmt = select(first.c.rid)
            for alias in aliases[1:]:
                stmt = stmt.join(alias, and_(alias.c.rid == first.c.rid, alias.c.grp == first.c.grp))
            options.append(R.c.rid.in_(stmt.where(*conds)))
        return or_(*options)

    # -- chains ----------------------------------------------------------------------------------------------
    def _target_types(self, param: SearchParam, modifier: str) -> list[str]:
        if modifier:
            return [modifier]
        targets = [t for t in param.targets if t != "Resource"]
        if not targets:
            raise InvalidSearch(f"chained parameter {param.code!r} needs a target type (:Type)")
        return targets

    def _chain(self, resource_type: str, R: Any, key: str, raw: str) -> ColumnElement[bool] | None:
        head, _, rest = key.partition(".")
        name, _, modifier = head.partition(":")
        param = self.registry.get(resource_type, name)
        if param is None or param.type != "reference":
            return self._unknown(f"{name!r} is not a reference parameter of {resource_type}: cannot chain")
        ref = self.t.reference
        T = self.t.resource.alias()
        per_type = []
        for target in self._target_types(param, modifier):
            inner = self.condition(target, T, rest, raw)
            if inner is not None:
                per_type.append(and_(T.c.res_type == target, inner))
        if not per_type:
            return None
        sub = (select(ref.c.rid)
               .join(T, and_(T.c.res_type == ref.c.target_type, T.c.res_id == ref.c.target_id))
               .where(ref.c.res_type == resource_type, ref.c.param == param.code, T.c.deleted == false(),
                      or_(*per_type)))
        return R.c.rid.in_(sub)

    def _has(self, resource_type: str, R: Any, key: str, raw: str) -> ColumnElement[bool] | None:
        pieces = key.split(":", 3)
        if len(pieces) != 4 or not all(pieces[1:]):
            raise InvalidSearch(f"_has takes _has:Type:reference:parameter, not {key!r}")
        _, source_type, ref_name, rest = pieces
        param = self.registry.get(source_type, ref_name)
        if param is None or param.type != "reference":
            raise InvalidSearch(f"{ref_name!r} is not a reference parameter of {source_type}")
        ref = self.t.reference
        S = self.t.resource.alias()
        inner = self.condition(source_type, S, rest, raw)
        if inner is None:
            return None
        sub = (select(ref.c.target_id)
               .join(S, S.c.rid == ref.c.rid)
               .where(ref.c.res_type == source_type, ref.c.param == ref_name, S.c.deleted == false(), inner,
                      ref.c.target_type == resource_type))
        return R.c.res_id.in_(sub)

    # -- sorting -----------------------------------------------------------------------------------------------
    def sort_key(self, resource_type: str, R: Any, name: str, descending: bool) -> tuple[Any, type]:
        """A scalar expression to order by (missing values sort last in both directions), and the Python
        type of its values (to check paging cursors)."""
        if name == "_id":
            return R.c.res_id, str
        if name == "_lastUpdated":
            return R.c.updated_us, int
        param = self.registry.get(resource_type, name)
        if param is None:
            raise InvalidSearch(f"cannot sort {resource_type} by unknown parameter {name!r}")
        table = self.t.index_tables()[param.type]
        text_low, text_high = ("", "\uffff")
        column = {"string": "value_norm", "token": "code", "uri": "value", "reference": "target_id",
                  "date": "high" if descending else "low", "number": "value", "quantity": "value"}[param.type]
        kind: type
        if param.type in ("date",):
            sentinel: Any = -(1 << 62) if descending else 1 << 62
            kind = int
        elif param.type in ("number", "quantity"):
            sentinel = -1e300 if descending else 1e300
            kind = float
        else:
            sentinel = text_low if descending else text_high
            kind = str
        column = table.c[column]
        aggregate = func.max(column) if descending else func.min(column)
        sub = (select(aggregate).where(table.c.rid == R.c.rid, table.c.param == param.code)
               .correlate(R).scalar_subquery())
        return func.coalesce(sub, sentinel), kind
