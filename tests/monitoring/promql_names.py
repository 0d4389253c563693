"""Metric names referenced by a PromQL expression (enough of PromQL for dashboards and alert rules)."""

import re

_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
_GROUPING = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """Series names selected by `expr`: not functions, keywords, labels, durations or Grafana variables."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\$\{[^}]*\}|\$\w+", "", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(_GROUPING, "", expr)
    expr = re.sub(r"\b(?:by|without|group_left|group_right)\b", "", expr)
    names = set()
    for match in _NAME.finditer(expr):
        word, before = match.group(0), expr[: match.start()]
        if word in _KEYWORDS or (before and (before[-1].isdigit() or before[-1] == ".")):
            continue
        if expr[match.end() :].lstrip().startswith("("):
            continue
        names.add(word)
    return names
