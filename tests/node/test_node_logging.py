"""Logging: JSON lines off a terminal, and secrets never reach the output."""

from __future__ import annotations

import io
import json
import logging

from aiohttp.http_exceptions import BadHttpMethod

from operator_node.api.refusals import RefusalLog
from operator_node.logging import MAX_LIBRARY_CHARS, Throttle, configure_logging, get_logger


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


def test_refusal_log_logs_each_code_at_once_then_at_most_once_per_interval() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    now = [1000.0]
    refusals = RefusalLog(lambda: now[0], interval=10.0)

    def lines() -> list[dict[str, object]]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    refusals.refused(403, "forbidden", "disperser 0xabc is not allowed", "127.0.0.1")
    for _ in range(5):  # a flood of the same refusal: counted, not logged
        refusals.refused(403, "forbidden", "disperser 0xabc is not allowed", "127.0.0.1")
    refusals.refused(503, "busy", "node is at its in-flight request limit", "10.0.0.7")
    refusals.refused(422, "bad_proof", "x" * 1000, None)
    now[0] += 9.9
    refusals.refused(403, "forbidden", "still inside the interval", "127.0.0.1")
    now[0] += 0.1
    refusals.refused(403, "forbidden", "the next interval", "127.0.0.2")

    logged = lines()
    assert [(e["event"], e["error"], e["suppressed"]) for e in logged] == [
        ("store_chunks_refused", "forbidden", 0),
        ("store_chunks_refused", "busy", 0),
        ("store_chunks_refused", "bad_proof", 0),
        ("store_chunks_refused", "forbidden", 6),  # the five and the one inside the interval
    ]
    first, busy, long, later = logged
    assert (first["level"], first["status"], first["peer"]) == ("info", 403, "127.0.0.1")
    assert first["message"] == "disperser 0xabc is not allowed"
    assert (busy["level"], busy["status"]) == ("warning", 503)  # the node's limit: a warning
    assert len(str(long["message"])) == 200 and str(long["message"]).endswith("...")
    assert (later["message"], later["peer"]) == ("the next interval", "127.0.0.2")


def test_library_records_are_one_json_line_each_truncated_and_throttled() -> None:
    """What aiohttp logs about a malformed request quotes the request; it must come out as one
    JSON line, cut short, at most once per interval per kind, and a real bug keeps its trace."""
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    server = logging.getLogger("aiohttp.server")
    junk = "\n".join(["x" * 500] * 100)
    for _ in range(50):
        server.error("Error handling request from %s", "10.0.0.1", exc_info=BadHttpMethod(junk))
    try:
        raise KeyError("a bug in a handler")
    except KeyError as exc:
        server.error("Unhandled exception", exc_info=exc)
    logging.getLogger("web3.providers").warning("line one\nline two %s", "y" * 1000)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    bad, bug, web3 = (json.loads(line) for line in lines)
    assert (bad["event"], bad["logger"], bad["level"]) == ("library_log", "aiohttp.server", "info")
    assert len(bad["error"]) == MAX_LIBRARY_CHARS and "traceback" not in bad
    assert bad["message"] == "Error handling request from 10.0.0.1"
    assert (bug["level"], bug["error"]) == ("error", "KeyError: 'a bug in a handler'")
    assert "raise KeyError" in bug["traceback"]
    assert web3["level"] == "warning" and len(web3["message"]) == MAX_LIBRARY_CHARS


def test_throttle_reports_what_it_dropped_and_forgets_old_kinds() -> None:
    now = [0.0]
    throttle = Throttle(10.0, clock=lambda: now[0], max_kinds=2)
    assert [throttle.admit("a") for _ in range(4)] == [0, None, None, None]
    now[0] = 10.0
    assert throttle.admit("a") == 3
    assert (throttle.admit("b"), throttle.admit("c")) == (0, 0)
    assert throttle.admit("a") == 0  # forgotten (least recently seen): a first line again
