"""The spec's expression language: a small, safe subset of SQL compiled to polars.

A derived target such as `arr_delay > 15` is written as text in a spec. That
text is parsed here, by the platform, into polars expressions; it is never
handed to polars SQL, whose parser runs table functions (`read_csv`,
`read_parquet`, ...) inside subqueries and so would let a spec read files on
the server or make network requests.

What an expression may contain:
- column names (`arr_delay`, or `"Arrival Delay"` in double quotes);
- literals: numbers, 'text' in single quotes, TRUE, FALSE, NULL;
- arithmetic `+ - * / %`, comparisons `= == != <> < <= > >=`, `AND OR NOT`;
- `x IN (1, 2)`, `x NOT IN ('a')`, `x BETWEEN 1 AND 5`, `x IS NULL`, `x IS NOT NULL`;
- `CASE WHEN cond THEN value [WHEN ...] [ELSE value] END`;
- parentheses and the functions in `FUNCTIONS`.

Anything else (a subquery, a table function, an unknown function, a `;`) is
refused with the position and the reason, when the spec is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from mlops_assets.errors import PlatformError


class ExpressionError(PlatformError):
    """An expression outside the safe language, with the position and the reason."""


def _round(value: pl.Expr, digits: pl.Expr | None = None) -> pl.Expr:
    return value.round(0 if digits is None else _literal_int(digits, "round"))


def _literal_int(expr: pl.Expr, function: str) -> int:
    value = pl.select(expr).item()
    if not isinstance(value, int):
        raise ExpressionError(f"{function}(): the number of digits must be a whole number literal")
    return value


# name -> (min args, max args, builder); max None means any number.
FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., pl.Expr]]] = {
    "abs": (1, 1, lambda x: x.abs()),
    "round": (1, 2, _round),
    "floor": (1, 1, lambda x: x.floor()),
    "ceil": (1, 1, lambda x: x.ceil()),
    "sqrt": (1, 1, lambda x: x.sqrt()),
    "exp": (1, 1, lambda x: x.exp()),
    "ln": (1, 1, lambda x: x.log()),
    "log10": (1, 1, lambda x: x.log10()),
    "lower": (1, 1, lambda x: x.cast(pl.String).str.to_lowercase()),
    "upper": (1, 1, lambda x: x.cast(pl.String).str.to_uppercase()),
    "trim": (1, 1, lambda x: x.cast(pl.String).str.strip_chars()),
    "length": (1, 1, lambda x: x.cast(pl.String).str.len_chars()),
    "coalesce": (1, None, lambda *xs: pl.coalesce(*xs)),
    "greatest": (1, None, lambda *xs: pl.max_horizontal(*xs)),
    "least": (1, None, lambda *xs: pl.min_horizontal(*xs)),
    "nullif": (2, 2, lambda x, y: pl.when(x == y).then(None).otherwise(x)),
}

KEYWORDS = {
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "true",
    "false",
    "between",
    "case",
    "when",
    "then",
    "else",
    "end",
}
# Words that only ever start something the language refuses: named so the error says why.
REFUSED_WORDS = {
    "select": "subqueries are not allowed",
    "from": "subqueries and table references are not allowed",
    "with": "subqueries are not allowed",
    "union": "subqueries are not allowed",
    "join": "table references are not allowed",
    "values": "subqueries are not allowed",
    "exists": "subqueries are not allowed",
}
MAX_LENGTH = 2000

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")+")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|<>|!=|==|[-+*/%=<>(),])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "name" else ""


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ExpressionError(
                f"unexpected character {text[position]!r} at position {position + 1}"
            )
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


@dataclass
class CompiledExpression:
    """A parsed expression: the polars expression and the columns it reads."""

    expr: pl.Expr
    columns: list[str] = field(default_factory=list)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0
        self.columns: list[str] = []

    # --- token helpers ------------------------------------------------------------------
    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.current
        self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        return self.current.kind == "name" and self.current.word in words

    def at_op(self, *ops: str) -> bool:
        return self.current.kind == "op" and self.current.text in ops

    def expect_word(self, word: str) -> None:
        if not self.at_word(word):
            self.fail(f"expected {word.upper()}")
        self.advance()

    def expect_op(self, op: str) -> None:
        if not self.at_op(op):
            self.fail(f"expected {op!r}")
        self.advance()

    def fail(self, why: str) -> None:
        token = self.current
        found = "the end" if token.kind == "end" else repr(token.text)
        raise ExpressionError(f"{why} at position {token.position} (found {found})")

    # --- grammar ------------------------------------------------------------------------
    def parse(self) -> CompiledExpression:
        expr = self.disjunction()
        if self.current.kind != "end":
            self.fail("unexpected text after the expression")
        return CompiledExpression(expr, list(dict.fromkeys(self.columns)))

    def disjunction(self) -> pl.Expr:
        expr = self.conjunction()
        while self.at_word("or"):
            self.advance()
            expr = expr | self.conjunction()
        return expr

    def conjunction(self) -> pl.Expr:
        expr = self.negation()
        while self.at_word("and"):
            self.advance()
            expr = expr & self.negation()
        return expr

    def negation(self) -> pl.Expr:
        if self.at_word("not"):
            self.advance()
            return ~self.negation()
        return self.predicate()

    def predicate(self) -> pl.Expr:
        left = self.additive()
        if self.at_op("=", "==", "!=", "<>", "<", "<=", ">", ">="):
            op = self.advance().text
            right = self.additive()
            return {
                "=": left.eq,
                "==": left.eq,
                "!=": left.ne,
                "<>": left.ne,
                "<": left.lt,
                "<=": left.le,
                ">": left.gt,
                ">=": left.ge,
            }[op](right)
        if self.at_word("is"):
            self.advance()
            negated = self.at_word("not")
            if negated:
                self.advance()
            self.expect_word("null")
            return left.is_not_null() if negated else left.is_null()
        negated = False
        if self.at_word("not"):
            self.advance()
            negated = True
            if not self.at_word("in", "between"):
                self.fail("expected IN or BETWEEN after NOT")
        if self.at_word("in"):
            self.advance()
            found = left.is_in(self.literal_list())
            return ~found if negated else found
        if self.at_word("between"):
            self.advance()
            low = self.additive()
            self.expect_word("and")
            high = self.additive()
            found = left.is_between(low, high)
            return ~found if negated else found
        return left

    def literal_list(self) -> list:
        self.expect_op("(")
        values = [self.literal_value()]
        while self.at_op(","):
            self.advance()
            values.append(self.literal_value())
        self.expect_op(")")
        return values

    def literal_value(self) -> object:
        negative = False
        if self.at_op("-"):
            self.advance()
            negative = True
        token = self.current
        refused = REFUSED_WORDS.get(token.word)
        if refused:
            self.fail(f"{refused} (IN takes a list of literals)")
        if token.kind == "number":
            self.advance()
            value = _number(token.text)
            return -value if negative else value
        if negative:
            self.fail("expected a number after '-'")
        if token.kind == "string":
            self.advance()
            return token.text[1:-1].replace("''", "'")
        if token.word in ("true", "false"):
            self.advance()
            return token.word == "true"
        self.fail("IN takes a list of literals (numbers, 'text', TRUE, FALSE)")
        raise AssertionError  # unreachable: fail raises

    def additive(self) -> pl.Expr:
        expr = self.multiplicative()
        while self.at_op("+", "-"):
            op = self.advance().text
            right = self.multiplicative()
            expr = expr + right if op == "+" else expr - right
        return expr

    def multiplicative(self) -> pl.Expr:
        expr = self.unary()
        while self.at_op("*", "/", "%"):
            op = self.advance().text
            right = self.unary()
            expr = expr * right if op == "*" else expr / right if op == "/" else expr % right
        return expr

    def unary(self) -> pl.Expr:
        if self.at_op("-"):
            self.advance()
            return -self.unary()
        if self.at_op("+"):
            self.advance()
            return self.unary()
        return self.primary()

    def primary(self) -> pl.Expr:
        token = self.current
        if token.kind == "number":
            self.advance()
            return pl.lit(_number(token.text))
        if token.kind == "string":
            self.advance()
            return pl.lit(token.text[1:-1].replace("''", "'"))
        if token.kind == "quoted":
            self.advance()
            return self.column(token.text[1:-1].replace('""', '"'))
        if self.at_op("("):
            self.advance()
            if self.at_word(*REFUSED_WORDS):
                self.fail(REFUSED_WORDS[self.current.word])
            expr = self.disjunction()
            self.expect_op(")")
            return expr
        if token.kind != "name":
            self.fail("expected a column, a literal or '('")
        word = token.word
        if word in REFUSED_WORDS:
            self.fail(REFUSED_WORDS[word])
        if word in ("true", "false"):
            self.advance()
            return pl.lit(word == "true")
        if word == "null":
            self.advance()
            return pl.lit(None)
        if word == "case":
            return self.case()
        if word in KEYWORDS:
            self.fail(f"unexpected {token.text.upper()}")
        self.advance()
        if self.at_op("("):
            return self.call(token)
        return self.column(token.text)

    def column(self, name: str) -> pl.Expr:
        self.columns.append(name)
        return pl.col(name)

    def call(self, name: _Token) -> pl.Expr:
        function = FUNCTIONS.get(name.word)
        if function is None:
            raise ExpressionError(
                f"function `{name.text}` at position {name.position} is not allowed "
                f"(allowed: {', '.join(sorted(FUNCTIONS))}; table functions and subqueries never are)"
            )
        self.expect_op("(")
        args = [] if self.at_op(")") else [self.disjunction()]
        while self.at_op(","):
            self.advance()
            args.append(self.disjunction())
        self.expect_op(")")
        low, high, build = function
        if len(args) < low or (high is not None and len(args) > high):
            wanted = (
                str(low) if low == high else f"{low} or more" if high is None else f"{low}-{high}"
            )
            raise ExpressionError(
                f"{name.word}() at position {name.position} takes {wanted} argument(s), got {len(args)}"
            )
        return build(*args)

    def case(self) -> pl.Expr:
        self.expect_word("case")
        if not self.at_word("when"):
            self.fail("expected WHEN (only CASE WHEN condition THEN value ... END is supported)")
        chain = None
        while self.at_word("when"):
            self.advance()
            condition = self.disjunction()
            self.expect_word("then")
            value = self.disjunction()
            chain = (
                pl.when(condition).then(value)
                if chain is None
                else chain.when(condition).then(value)
            )
        otherwise = pl.lit(None)
        if self.at_word("else"):
            self.advance()
            otherwise = self.disjunction()
        self.expect_word("end")
        assert chain is not None
        return chain.otherwise(otherwise)


def _number(text: str) -> int | float:
    return float(text) if any(ch in text for ch in ".eE") else int(text)


def compile_expression(text: str) -> CompiledExpression:
    """Parse `text` into a polars expression, or raise ExpressionError saying where and why."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is {len(text)} characters long (at most {MAX_LENGTH})")
    if not text.strip():
        raise ExpressionError("expression is empty")
    return _Parser(text).parse()


__all__ = ["FUNCTIONS", "CompiledExpression", "ExpressionError", "compile_expression"]
