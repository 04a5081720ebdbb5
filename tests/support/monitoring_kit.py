"""The monitoring kit (monitoring/) as the tests read it: its PromQL, the metric and label names
that PromQL uses, and the names a node's exposition offers.

Metric names are taken from PromQL by a tokenizer that knows the language's shapes: string
literals, label matchers, ranges and grouping clauses are cut out first, then every remaining
identifier that is neither a keyword nor a function call is a metric name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.metrics_core import Metric

KIT = Path(__file__).resolve().parents[2] / "monitoring"
DASHBOARD = KIT / "grafana" / "dashboards" / "operator-node.json"
JOB = "operator-node"
# Series Prometheus makes itself for every target, not the node's.
PROMETHEUS_SERIES = frozenset({"up"})
# Labels Prometheus attaches (job, instance) and the histogram bucket bound.
TARGET_LABELS = frozenset({"job", "instance", "le", "__name__"})

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)", re.IGNORECASE
)
_IDENTIFIER = re.compile(r"(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?")
_MATCHER_LABEL = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"bool", "offset", "inf", "nan"}
)
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"([^"]+)"')


@dataclass(frozen=True)
class Query:
    """One PromQL expression of the kit and where it comes from (for failure messages)."""

    origin: str
    expr: str


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of monitoring/alerts.yml, as written."""
    groups = yaml.safe_load((KIT / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alert_queries() -> list[Query]:
    """The expression of every alert rule."""
    return [Query(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]


def dashboard() -> dict[str, Any]:
    """The Grafana dashboard JSON."""
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_panels() -> list[dict[str, Any]]:
    """Every panel that shows data (rows left out, panels nested in rows included)."""
    panels: list[dict[str, Any]] = []
    for panel in dashboard()["panels"]:
        panels.extend(panel.get("panels", []) if panel["type"] == "row" else [panel])
    return panels


def dashboard_queries() -> list[Query]:
    """The expression of every panel target."""
    return [
        Query(f"panel {panel['title']!r} {target['refId']}", target["expr"])
        for panel in dashboard_panels()
        for target in panel["targets"]
    ]


def kit_queries() -> list[Query]:
    """Every expression of the kit: alerts, then the dashboard."""
    return alert_queries() + dashboard_queries()


def fill_dashboard_variables(expr: str, rate_interval: str = "1m") -> str:
    """``expr`` as Grafana sends it with the job chosen and every node selected."""
    filled = (
        expr.replace("$__rate_interval", rate_interval)
        .replace("$job", JOB)
        .replace("$instance", ".*")
    )
    if "$" in filled:
        raise AssertionError(f"a Grafana variable the test does not know in {expr!r}")
    return filled


def _without_strings(expr: str) -> str:
    return _STRING.sub('""', expr)


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects (``__name__="..."`` matchers included)."""
    names = set(_NAME_MATCHER.findall(expr))
    text = _MATCHERS.sub(" ", _without_strings(expr))
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call is None and name.lower() not in _KEYWORDS:
            names.add(name)
    return names


def label_names(expr: str) -> set[str]:
    """The label names ``expr`` matches on or groups by."""
    text = _without_strings(expr)
    labels: set[str] = set()
    for block in _MATCHERS.findall(text):
        labels.update(_MATCHER_LABEL.findall(block))
    for block in _GROUPING.findall(text):
        labels.update(label.strip() for label in block.split(",") if label.strip())
    return labels


def label_values_matched(expr: str, label: str) -> set[str]:
    """The alternatives of every regular-expression matcher on ``label`` in ``expr``
    (``outcome=~"a|b"`` gives {"a", "b"})."""
    values: set[str] = set()
    for pattern in re.findall(rf'\b{label}\s*[=!]~\s*"([^"]*)"', expr):
        values.update(pattern.split("|"))
    return values


# The sample names each family type offers (prometheus_client's parser names counters without
# their _total, and reports info metrics as gauges named with their _info).
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def exported_names(families: list[Metric]) -> set[str]:
    """Every series name a query may use for the families of an exposition, including those
    that have no sample yet (a labelled metric nothing has touched is declared all the same)."""
    names: set[str] = set()
    for family in families:
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def exported_labels(families: list[Metric]) -> set[str]:
    """Every label name on any sample of the exposition."""
    return {label for family in families for sample in family.samples for label in sample.labels}
