"""Backend selection in fresh processes: the environment switch and the build fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from erasure.erasure_support import ALL_BACKENDS
from support.build import build_extensions
from support.probe import run_probe

from operator_node.erasure import BACKEND_ENV

ROOT = Path(__file__).resolve().parents[2]

# Reports what a fresh interpreter selects, or the error it gets, as one JSON line.
PROBE = """
import json, sys
if sys.argv[1] == "no-extension":
    sys.modules["operator_node.erasure._rs"] = None  # as if the C build had failed
from operator_node.erasure import Codec, available_backends, select_backend
blob = bytes(range(200))
try:
    selected = select_backend(sys.argv[2])
    codec = Codec(3, 5) if sys.argv[2] == "auto" else Codec(3, 5, sys.argv[2])
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
else:
    chunks = codec.encode(blob)
    ok = codec.decode({i: chunks[i] for i in (2, 3, 4)}, len(blob)) == blob
    ok = ok and selected == codec.backend
    print(json.dumps({"backend": codec.backend, "ok": ok, "available": available_backends()}))
"""


def probe(env_value: str | None, argument: str = "auto", mode: str = "normal") -> dict[str, object]:
    return run_probe(PROBE, mode, argument, variable=BACKEND_ENV, value=env_value)


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_backend_env_selects_each_backend(name: str) -> None:
    assert probe(name) == {"backend": name, "ok": True, "available": list(ALL_BACKENDS)}


def test_backend_env_unset_or_auto_picks_the_fastest() -> None:
    assert probe(None)["backend"] == ALL_BACKENDS[0]
    assert probe("auto")["backend"] == ALL_BACKENDS[0]


def test_backend_env_loses_to_an_explicit_argument() -> None:
    assert probe("reedsolo", argument=ALL_BACKENDS[0])["backend"] == ALL_BACKENDS[0]


def test_backend_env_rejects_an_unknown_name() -> None:
    result = probe("avx1024")
    assert result["error"] == "CodecParameterError"
    assert BACKEND_ENV in str(result["message"])
    assert "avx1024" in str(result["message"])


def test_backend_env_forbids_a_backend_the_machine_lacks() -> None:
    result = probe("gfni", mode="no-extension")
    assert result["error"] == "BackendUnavailableError"
    assert "available: reedsolo" in str(result["message"])


def test_backend_without_extension_falls_back_to_reedsolo() -> None:
    assert probe(None, mode="no-extension") == {
        "backend": "reedsolo",
        "ok": True,
        "available": ["reedsolo"],
    }


def test_backend_extension_is_built_here() -> None:
    # CI has a C compiler: the kernels must be there, not silently replaced by reedsolo.
    assert "scalar" in ALL_BACKENDS


def test_backend_build_failure_still_installs(tmp_path: Path) -> None:
    # The extension is optional: with a compiler that always fails, the build warns and succeeds.
    done = build_extensions(tmp_path, CC="false", LDSHARED="false")
    assert done.returncode == 0, done.stderr
    assert 'building extension "operator_node.erasure._rs" failed' in done.stdout + done.stderr
    assert not list((tmp_path / "lib").rglob("_rs*.so"))
