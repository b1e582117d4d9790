"""Parsing FHIRPath text into fhirpathpy's AST, failing loudly on syntax errors.

fhirpathpy's own `parse` installs antlr's base ErrorListener, whose `syntaxError` does nothing: an expression
such as `2 + 2 /` is then silently parsed into something else. We drive the same generated lexer/parser and AST
listener, but with a listener that raises, and we insist that the whole input is consumed.
"""
from __future__ import annotations

from typing import Any

from antlr4 import CommonTokenStream, InputStream, Token
from antlr4.error.ErrorListener import ErrorListener
from antlr4.tree.Tree import ParseTreeWalker
from fhirpathpy.parser.ASTPathListener import ASTPathListener
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from fhir_service.fhirpath.errors import FhirPathError


class _RaisingErrorListener(ErrorListener):
    def __init__(self, expression: str) -> None:
        self.expression = expression

    def syntaxError(self, recognizer: Any, offendingSymbol: Any, line: int, column: int,
                    msg: str, e: Any) -> None:  # noqa: N802,N803 (antlr's names)
        raise FhirPathError(
            f"FHIRPath syntax error at line {line}, column {column + 1}: {msg} in {self.expression!r}",
            expression=self.expression, position=(line, column + 1))


def parse(expression: str) -> dict[str, Any]:
    """Return fhirpathpy's AST (a nested dict) for `expression`; raise FhirPathError on a syntax error."""
    if not isinstance(expression, str):
        raise FhirPathError(f"FHIRPath expression must be a string, got {type(expression).__name__}")
    if not expression.strip():
        raise FhirPathError("FHIRPath expression is empty", expression=expression)
    listener = _RaisingErrorListener(expression)
    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    tokens = CommonTokenStream(lexer)
    parser = FHIRPathParser(tokens)
    parser.buildParseTrees = True
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    try:
        tree = parser.expression()
        trailing = tokens.LT(1)
        if trailing is not None and trailing.type != Token.EOF:
            raise FhirPathError(
                f"FHIRPath syntax error at line {trailing.line}, column {trailing.column + 1}: "
                f"unexpected {trailing.text!r} in {expression!r}",
                expression=expression, position=(trailing.line, trailing.column + 1))
        ast_listener = ASTPathListener()
        ParseTreeWalker().walk(ast_listener, tree)
    except FhirPathError:
        raise
    except Exception as exc:  # antlr raises its own exception types on lexer failures
        raise FhirPathError(f"FHIRPath syntax error in {expression!r}: {exc}", expression=expression) from exc
    return _type_operator_precedence(ast_listener.parentStack[0])


#: binary operators that bind more loosely than `is`/`as` in FHIRPath 2.0 (fhirpathpy's N1 grammar ranks
#: union and comparison above them, so `1 | 1 is Integer` parsed as `(1 | 1) is Integer`)
_LOOSER_THAN_TYPE = frozenset({"UnionExpression", "InequalityExpression"})


def _type_operator_precedence(node: dict[str, Any]) -> dict[str, Any]:
    """Rewrite `(a OP b) is T` into `a OP (b is T)` where the tree came from unparenthesised text.

    Parenthesised text keeps its own ParenthesizedTerm node, so `(a | b) is T` is never rewritten.
    """
    children = node.get("children")
    if children:
        node["children"] = [_type_operator_precedence(child) for child in children]
    if node.get("type") == "TypeExpression" and node["children"][0].get("type") in _LOOSER_THAN_TYPE:
        looser = node["children"][0]
        left, right = looser["children"]
        inner = _type_operator_precedence({**node, "children": [right, node["children"][1]]})
        return {**looser, "children": [left, inner]}
    return node
