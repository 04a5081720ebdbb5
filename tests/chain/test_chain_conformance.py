"""docs/eigenlayer-conformance.md against our compiled contracts and the code that calls them.

The table lists every function and event the node and its client use, with its selector and the
EigenLayer releases that have it. Checked here: each selector is keccak256 of its signature; each
signature is in the ABI of our contract of that name; every function or event the code calls is
listed; and nothing listed that neither EigenLayer release has is relied on without a probe.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from eth_hash.auto import keccak

from operator_node.chain.artifacts import load_abi

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "eigenlayer-conformance.md"
PACKAGE = ROOT / "operator_node"
# The devnet's deployer sets up our own contracts; it is not the node or its client.
NOT_NODE = (PACKAGE / "chain" / "deploy.py", PACKAGE / "devnet")
# contract.functions.name(...), contract.events.Name, and signatures in string literals
# ("getOperatorState(address,bytes,uint32)", for get_function_by_signature).
_CALLED = re.compile(r"\.functions\.(\w+)\(|\.events\.(\w+)\b|\"(\w+)\([a-z0-9\[\](),]*\)\"")


class Row(NamedTuple):
    section: str
    contract: str
    kind: str  # "function" or "event"
    signature: str
    selector: str
    m2: str
    current: str
    notes: str

    @property
    def name(self) -> str:
        return self.signature.split("(", 1)[0]


def _rows() -> list[Row]:
    rows, section = [], ""
    for line in TABLE.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:]
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or not cells[1].startswith(("`", "event `")):
            continue
        contract, signature, selector, m2, current, _, notes = cells
        kind = "event" if signature.startswith("event ") else "function"
        rows.append(
            Row(section, contract, kind, signature.removeprefix("event ").strip("`"), selector,
                m2, current, notes)
        )  # fmt: skip
    return rows


ROWS = _rows()
USED = [r for r in ROWS if r.section.startswith("Used by")]


def _canonical_type(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def _abi_signatures(contract: str) -> Iterator[tuple[str, str]]:
    for entry in load_abi(contract):
        if entry["type"] in ("function", "event"):
            types = ",".join(_canonical_type(p) for p in entry["inputs"])
            yield entry["type"], f"{entry['name']}({types})"


def test_conformance_table_is_read_whole() -> None:
    assert len(USED) >= 30 and len(ROWS) > len(USED)
    assert {r.m2 for r in ROWS} <= {"yes", "no"} and {r.current for r in ROWS} <= {"yes", "no"}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.contract}.{r.signature[:40]}")
def test_conformance_selector_and_our_abi(row: Row) -> None:
    digest = keccak(row.signature.encode()).hex()
    assert row.selector == (digest if row.kind == "event" else digest[:8])
    assert (row.kind, row.signature) in set(_abi_signatures(row.contract))


def test_conformance_lists_exactly_the_functions_and_events_the_code_calls() -> None:
    called: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if any(path == p or p in path.parents for p in NOT_NODE):
            continue
        for match in _CALLED.finditer(path.read_text()):
            name = next(group for group in match.groups() if group)
            called.setdefault(name, []).append(str(path.relative_to(ROOT)))
    listed = {r.name for r in USED}
    assert not {n: where for n, where in called.items() if n not in listed}
    assert not listed - called.keys()  # and nothing listed as used is unused


def test_conformance_nothing_only_ours_is_relied_on_unprobed() -> None:
    for row in USED:
        if row.m2 == "no" and row.current == "no":
            assert "probed" in row.notes or "EigenDA" in row.notes, row
        elif row.m2 == "no" or row.current == "no":
            assert "probed" in row.notes or "chosen" in row.notes or "only where" in row.notes, row
