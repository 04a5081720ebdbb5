"""What ``operator-node healthcheck`` does (its arguments are in ``cli.healthcheck``).

Standard library only, beside the configuration reader: a container runs it every 30 s, so it
must start in a fraction of a second and must not depend on the node's own libraries working.
"""

from __future__ import annotations

import argparse
import http.client
import json

from operator_node.config import load_config
from operator_node.errors import ConfigError

HEALTHY, UNHEALTHY = 0, 1
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - a listen address
_MEANING = {200: "healthy", 206: "partially healthy", 503: "unhealthy"}


def healthcheck(args: argparse.Namespace) -> int:
    """Ask the configured node for its health; print one line saying what was found.

    Returns 0 for 200 (and for 206 with ``--allow-partial``), 1 otherwise.
    """
    try:
        api = load_config(args.config).api
    except ConfigError as exc:
        print(f"unhealthy: the configuration does not load, so neither would the node: {exc}")
        return UNHEALTHY
    host = _WILDCARDS.get(api.host, api.host)
    where = f"{_bracketed(host)}:{api.port}"
    try:
        status, _ = _get(host, api.port, "/eigen/node/health", args.timeout)
        down = _services_not_up(host, api.port, args.timeout) if status != 200 else []
    except TimeoutError:
        print(f"unhealthy: the node at {where} did not answer within {args.timeout:g} s")
        return UNHEALTHY
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        print(f"unhealthy: nothing answers at {where} ({reason}); is the node running?")
        return UNHEALTHY
    except http.client.HTTPException as exc:
        print(f"unhealthy: what answers at {where} is not the node ({type(exc).__name__})")
        return UNHEALTHY
    return _verdict(status, down, where, allow_partial=args.allow_partial)


def _verdict(status: int, down: list[str], where: str, *, allow_partial: bool) -> int:
    meaning = _MEANING.get(status, "an unexpected answer")
    detail = f"; services not Up: {', '.join(down)}" if down else ""
    if status == 200 or (status == 206 and allow_partial):
        print(f"healthy: {where}/eigen/node/health answered {status} ({meaning}){detail}")
        return HEALTHY
    print(f"unhealthy: {where}/eigen/node/health answered {status} ({meaning}){detail}")
    return UNHEALTHY


def _services_not_up(host: str, port: int, timeout: float) -> list[str]:
    """``id (Status)`` of every service that is not Up, from /eigen/node/services."""
    status, body = _get(host, port, "/eigen/node/services", timeout)
    if status != 200:
        return [f"(the service list answered {status})"]
    try:
        services = json.loads(body)["services"]
        return [f"{s['id']} ({s['status']})" for s in services if s["status"] != "Up"]
    except (ValueError, KeyError, TypeError):
        return ["(the service list is not the node spec's JSON)"]


def _get(host: str, port: int, path: str, timeout: float) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read(1 << 16)
    finally:
        connection.close()


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
