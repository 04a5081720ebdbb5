"""Logging: JSON lines off a terminal, and secrets never reach the output."""

from __future__ import annotations

import io
import json

from operator_node.logging import configure_logging, get_logger


def test_logging_writes_json_lines_with_bound_context() -> None:
    stream = io.StringIO()
    configure_logging("info", "auto", stream)
    log = get_logger("store").bind(batch="0xab")
    log.info("batch_stored", chunks=3)
    log.debug("not_shown")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "batch_stored"
    assert (record["component"], record["batch"], record["chunks"]) == ("store", "0xab", 3)
    assert record["level"] == "info" and "timestamp" in record


def test_logging_redacts_secret_keys() -> None:
    stream = io.StringIO()
    configure_logging("debug", "json", stream)
    get_logger("keys").info("loaded", password="hunter2", bls_private_key="0x01", path="/k")
    record = json.loads(stream.getvalue())
    assert "hunter2" not in stream.getvalue()
    assert record["password"] == "[redacted]" and record["bls_private_key"] == "[redacted]"
    assert record["path"] == "/k"


def test_logging_console_format_is_not_json() -> None:
    stream = io.StringIO()
    configure_logging("info", "console", stream)
    get_logger("node").info("node_started", port=1)
    output = stream.getvalue()
    assert "node_started" in output and not output.startswith("{")
