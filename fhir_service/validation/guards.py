"""Which element names an invariant reads from its focus, so it need not run when none of them is present.

Most invariants are about optional content (`contained.contained.empty()`, `abatement.empty() or ...`). When the
focus has none of the names the expression starts its paths with, the expression sees exactly what it would see
on an empty element, so its result is a constant per expression and focus type: computed once, then reused.
This removes most FHIRPath evaluations (the validator's main cost) without changing any verdict.

`root_names` returns None (never skip) when the expression reads anything else about its focus or environment at
the top level: %variables, $this, or a function applied to the focus itself (`hasValue()`, `children()`, ...).
Arguments of functions are evaluated per item of the chain they follow, so with an absent root they never run.
"""
from __future__ import annotations

import re

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<tick>`[^`]*`)
  | (?P<date>@[0-9T:\-\.+Z]*)
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<var>[%$][A-Za-z_][\w\-]*|%`[^`]*`|%'[^']*')
  | (?P<id>[A-Za-z_]\w*)
  | (?P<op><=|>=|!=|!~|[=<>~|+\-*/&])
  | (?P<p>[().,\[\]{}])
""", re.VERBOSE)
WORD_OPERATORS = frozenset({"and", "or", "xor", "implies", "in", "contains", "div", "mod"})
TYPE_OPERATORS = frozenset({"is", "as"})
LITERALS = frozenset({"true", "false"})


def _tokens(expression: str) -> list[tuple[str, str]] | None:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expression):
        m = _TOKEN.match(expression, pos)
        if m is None:
            return None
        pos = m.end()
        kind = m.lastgroup or ""
        if kind == "ws":
            continue
        text = m.group(kind)
        if kind == "tick":
            kind, text = "id", text[1:-1]
        out.append((kind, text))
    return out


def root_names(expression: str) -> frozenset[str] | None:
    """The element names the expression's top-level paths start with, or None when it cannot be skipped."""
    tokens = _tokens(expression)
    if not tokens:
        return None
    roots: set[str] = set()
    i, n = 0, len(tokens)
    expect_operand = True
    while i < n:
        kind, text = tokens[i]
        if expect_operand:
            if kind == "p" and text == "(":
                i += 1
                continue  # a grouping parenthesis: its content starts with an operand
            if kind == "op" and text in "+-":
                i += 1
                continue  # unary sign
            if kind in ("str", "num", "date") or (kind == "id" and text in LITERALS):
                i += 1
            elif kind == "p" and text == "{":
                if i + 1 < n and tokens[i + 1] == ("p", "}"):
                    i += 2
                else:
                    return None
            elif kind == "id":
                if i + 1 < n and tokens[i + 1] == ("p", "("):
                    return None  # a function of the focus itself (exists(), hasValue(), iif(), ...)
                roots.add(text)
                i += 1
            else:
                return None  # %resource, $this, ...
            i = _skip_chain(tokens, i)
            if i < 0:
                return None
            expect_operand = False
            continue
        # after an operand: closing groups, then a binary operator
        if kind == "p" and text == ")":
            i += 1
            i = _skip_chain(tokens, i)
            if i < 0:
                return None
            continue
        if kind == "op" or (kind == "id" and text in WORD_OPERATORS):
            expect_operand = True
            i += 1
            continue
        if kind == "id" and text in TYPE_OPERATORS:
            i += 1
            while i < n and (tokens[i][0] == "id" or tokens[i] == ("p", ".")):
                i += 1
            continue
        return None
    return frozenset(roots) if roots else None


def _skip_chain(tokens: list[tuple[str, str]], i: int) -> int:
    """Skip `.name`, `.fn(args)` and `[index]` steps after an operand; -1 on unbalanced input."""
    n = len(tokens)
    while i < n:
        if tokens[i] == ("p", ".") and i + 1 < n and tokens[i + 1][0] == "id":
            i += 2
            if i < n and tokens[i] == ("p", "("):
                i = _skip_group(tokens, i, "(", ")")
                if i < 0:
                    return -1
            continue
        if tokens[i] == ("p", "["):
            i = _skip_group(tokens, i, "[", "]")
            if i < 0:
                return -1
            continue
        if tokens[i] == ("p", "(") and i > 0 and tokens[i - 1][0] == "id":
            i = _skip_group(tokens, i, "(", ")")
            if i < 0:
                return -1
            continue
        break
    return i


def _skip_group(tokens: list[tuple[str, str]], i: int, open_: str, close: str) -> int:
    depth = 0
    n = len(tokens)
    while i < n:
        if tokens[i] == ("p", open_):
            depth += 1
        elif tokens[i] == ("p", close):
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


_PREFIXES: dict[frozenset[str], tuple[str, ...]] = {}


def _prefixes(roots: frozenset[str]) -> tuple[str, ...]:
    found = _PREFIXES.get(roots)
    if found is None:
        if len(_PREFIXES) > 4096:
            _PREFIXES.clear()
        found = _PREFIXES[roots] = tuple(roots) + tuple("_" + name for name in roots)
    return found


def reads_key(key: str, roots: frozenset[str]) -> bool:
    """Whether property `key` is one an expression with these root names would read (see any_present)."""
    if key in roots:
        return True
    if not key.startswith(_PREFIXES.get(roots) or _prefixes(roots)):
        return False
    if key[:1] == "_":
        key = key[1:]
        if key in roots:
            return True
    return any(key.startswith(name) and key[len(name):len(name) + 1].isupper() for name in roots)


def any_present(node: dict, roots: frozenset[str]) -> bool:
    """Whether `node` has any property an expression with these root names would read (choices: value -> valueX).

    Called for every invariant at every element: an exact name is found by one set operation, and only keys that
    start with a root name (or `_` + one) are looked at further."""
    if not roots.isdisjoint(node):
        return True
    prefixes = _PREFIXES.get(roots) or _prefixes(roots)
    for key in node:
        if not key.startswith(prefixes):
            continue
        if key[:1] == "_":
            key = key[1:]
        if key in roots:
            return True
        for name in roots:
            if key.startswith(name) and key[len(name):len(name) + 1].isupper():
                return True
    return False


# -- short-circuits --------------------------------------------------------------------------------------------
# An invariant `A implies B` holds when A is false; `A or B` when any operand is true; `A and B` fails when any
# operand is false. Profiles' invariants are mostly "when the code is X, then ...": A reads only `code`, which
# repeats across resources. Operands that read nothing but the focus are pure functions of the properties they
# name, so their results are memoised by the JSON of those properties; an operand whose names are all absent is
# a constant. When the short-circuit decides, the whole expression need not run.
IMPURE = frozenset({"resolve", "descendants", "children", "repeat", "now", "today", "timeOfDay", "trace",
                    "memberOf", "conformsTo", "htmlChecks"})
_SPLIT_ORDER = ("implies", "or", "and")


def _positions(expression: str) -> list[tuple[str, str, int, int]] | None:
    out: list[tuple[str, str, int, int]] = []
    pos = 0
    while pos < len(expression):
        m = _TOKEN.match(expression, pos)
        if m is None:
            return None
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group(kind), m.start(), m.end()))
        pos = m.end()
    return out


def split_top(expression: str) -> tuple[str, list[str]] | None:
    """('implies'|'or'|'and', operand texts) for the lowest-precedence operator at depth 0, or None."""
    tokens = _positions(expression)
    if not tokens:
        return None
    text = expression
    # strip parentheses around the whole expression
    while tokens and tokens[0][1] == "(" and tokens[-1][1] == ")" and _matching(tokens, 0) == len(tokens) - 1:
        text = expression[tokens[0][3]:tokens[-1][2]]
        return split_top(text) if text.strip() else None
    for op in _SPLIT_ORDER:
        cuts: list[int] = []
        depth = 0
        for i, (kind, tok, _, _) in enumerate(tokens):
            if tok in ("(", "[", "{"):
                depth += 1
            elif tok in (")", "]", "}"):
                depth -= 1
            elif depth == 0 and kind == "id" and tok == op and (i == 0 or tokens[i - 1][1] != "."):
                cuts.append(i)
            elif depth == 0 and kind == "id" and tok == "xor" and op == "or":
                return None
        if not cuts:
            continue
        if op == "implies" and len(cuts) > 1:
            return None
        parts, start = [], 0
        for cut in cuts:
            parts.append(text[tokens[start][2]:tokens[cut - 1][3]] if cut > start else "")
            start = cut + 1
        parts.append(text[tokens[start][2]:tokens[-1][3]] if start < len(tokens) else "")
        if any(not p.strip() for p in parts):
            return None
        return op, parts
    return None


def _matching(tokens: list[tuple[str, str, int, int]], i: int) -> int:
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j][1] == "(":
            depth += 1
        elif tokens[j][1] == ")":
            depth -= 1
            if depth == 0:
                return j
    return -1


LOCAL_VARIABLES = frozenset({"$this", "$index", "$total"})


def resource_reads(expression: str) -> frozenset[str] | None:
    """The names an expression reads through `%resource` (`%resource.severity` -> severity), when that and its
    focus are all it reads: every %resource is followed by `.name`, no other %variable, no impure function.
    None otherwise. On a resource's own invariants %resource is the focus, so such an expression is a pure
    function of the focus's properties named by its roots and these names."""
    tokens = _tokens(expression)
    if tokens is None:
        return None
    names: set[str] = set()
    n = len(tokens)
    for i, (kind, text) in enumerate(tokens):
        if kind == "var":
            if text in LOCAL_VARIABLES:
                continue
            if text != "%resource" or i + 2 >= n or tokens[i + 1] != ("p", ".") or tokens[i + 2][0] != "id":
                return None
            if i + 3 < n and tokens[i + 3] == ("p", "("):
                return None  # a function of %resource itself
            names.add(tokens[i + 2][1])
        elif kind == "id" and text in IMPURE:
            return None
    return frozenset(names)


# functions that compare or show whole items (equality, de-duplication, text), or walk all of an item's children:
# with them an expression can observe properties it never names
WHOLE_ITEM_FUNCTIONS = frozenset({"distinct", "isDistinct", "intersect", "exclude", "subsetOf", "supersetOf",
                                  "union", "children", "descendants", "repeat", "toString", "trace", "aggregate",
                                  "toJson", "memberOf", "conformsTo", "htmlChecks", "getValue"})
_LITERAL_KINDS = frozenset({"str", "num", "date"})
# properties read without being named: a Quantity's in comparisons, arithmetic, conversions and aggregates;
# an extension's url in extension('...')
IMPLICIT_READS = frozenset({"value", "code", "system", "unit", "comparator", "url"})


def _is_literal(token: tuple[str, str] | None) -> bool:
    return token is not None and (token[0] in _LITERAL_KINDS or (token[0] == "id" and token[1] in LITERALS))


def read_names(expression: str) -> frozenset[str] | None:
    """Every name the expression may read at any depth of what it navigates, when it observes nothing else: no
    whole-item comparison (`~`, `|`, `in`, `contains`, distinct(), ...; `=` / `!=` only against a literal, where a
    complex item is unequal whatever it holds), no `&`, no variable but %resource / $this. None otherwise.

    Two items that agree on every property so named (at every depth) give such an expression the same result, so
    memo keys may leave the other properties out (ids, narrative, display texts, identifiers)."""
    tokens = _tokens(expression)
    if tokens is None:
        return None
    names: set[str] = set()
    n = len(tokens)
    for i, (kind, text) in enumerate(tokens):
        if kind == "var":
            if text not in LOCAL_VARIABLES and text != "%resource":
                return None
        elif kind == "op":
            if text in ("~", "!~", "|", "&"):
                return None
            if text in ("=", "!=") and not (_is_literal(tokens[i - 1] if i else None)
                                           or _is_literal(tokens[i + 1] if i + 1 < n else None)):
                return None
        elif kind == "id":
            after_dot = i > 0 and tokens[i - 1] == ("p", ".")
            if text in ("in", "contains") and not after_dot:
                return None  # the membership operators (the string function contains() follows a dot)
            if text in WHOLE_ITEM_FUNCTIONS:
                return None
            names.add(text)
    return frozenset(names | IMPLICIT_READS)


def _chained_resolve(tokens: list[tuple[str, str]]) -> bool:
    """Whether some resolve() navigates from the result of another resolve(): walking back along its path
    (names, dots and balanced call parentheses), another `resolve` is met. Two resolve() calls on the same
    focus (`a.resolve().x or a.resolve().y`) are not chained."""
    for index, token in enumerate(tokens):
        if token != ("id", "resolve"):
            continue
        i = index - 1
        while i >= 0 and tokens[i] == ("p", "."):
            i -= 1
            if i >= 0 and tokens[i] == ("p", ")"):  # a call: skip its balanced argument list, then its name
                depth = 0
                while i >= 0:
                    if tokens[i] == ("p", ")"):
                        depth += 1
                    elif tokens[i] == ("p", "("):
                        depth -= 1
                        if depth == 0:
                            break
                    i -= 1
                i -= 1
            if i < 0 or tokens[i][0] != "id":
                break
            if tokens[i][1] == "resolve":
                return True
            i -= 1
    return False


def is_pure(expression: str, allow_resolve: bool = False) -> bool:
    """Reads only its focus's own properties (no %variables, no resolve()/descendants()/now()...); with
    `allow_resolve`, resolve() is accepted too (the caller then keys results by the resolved targets)."""
    tokens = _tokens(expression)
    if tokens is None:
        return False
    impure = IMPURE - {"resolve"} if allow_resolve else IMPURE
    if _chained_resolve(tokens):
        return False  # resolve() of a resolved target: its targets are not in the memo key (first level only)
    return not any(kind == "var" or (kind == "id" and text in impure) for kind, text in tokens)
