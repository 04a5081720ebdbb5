"""The JSON error body every refusal carries: ``{"error": <code>, "message": <text>}``."""

from __future__ import annotations

from aiohttp import web


def error_response(status: int, code: str, message: str) -> web.Response:
    """A JSON error response with a stable machine ``code`` and a human ``message``."""
    return web.json_response({"error": code, "message": message}, status=status)
