"""Choosing among the implementations of a hot path (erasure code, keccak, BN254) by name.

Each component has native backends (C extensions, picked from what the CPU runs) and a
pure-Python fallback, and an environment variable that forces one. The rules, shared so that they
read the same everywhere: unset, empty or ``auto`` means the fastest available; a name that is
not a backend, or one this machine cannot run, is an error naming the variable and the choices.
"""

from __future__ import annotations

import os
from collections.abc import Sequence


def read_backend_variable(variable: str) -> str:
    """Return the backend the environment ``variable`` asks for, lower-cased; "auto" if unset."""
    return os.environ.get(variable, "").strip().lower() or "auto"


def pick_backend(
    name: str,
    *,
    component: str,
    source: str,
    known: Sequence[str],
    available: Sequence[str],
    unknown_error: type[Exception],
    unavailable_error: type[Exception],
    why_unavailable: str = "",
) -> str:
    """Return the backend ``name`` (from ``source``) resolves to; ``available`` is fastest first.

    Raises ``unknown_error`` for a name not in ``known`` and ``unavailable_error`` for one not in
    ``available``, each message naming the component, the source and the choices.
    """
    if name == "auto":
        return available[0]
    if name not in known:
        raise unknown_error(
            f"unknown {component} backend {name!r} from {source}; expected auto or one of "
            + ", ".join(known)
        )
    if name not in available:
        why = f": {why_unavailable}" if why_unavailable else ""
        raise unavailable_error(
            f"{component} backend {name!r} (from {source}) cannot run here{why}; "
            f"available: {', '.join(available)}"
        )
    return name
