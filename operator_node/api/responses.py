"""The JSON error body every refusal carries: ``{"error": <code>, "message": <text>}``."""

from __future__ import annotations

from aiohttp import web


def error_response(
    status: int, code: str, message: str, extra: dict[str, object] | None = None
) -> web.Response:
    """A JSON error response with a stable machine ``code``, a human ``message`` and any
    ``extra`` fields."""
    return web.json_response({"error": code, "message": message, **(extra or {})}, status=status)
