"""How the query API refuses a request: :class:`ApiError`, its JSON body, the body-size
middleware and the translation of pydantic validation errors.

Every refusal is ``{"error": {"code", "message", "field", "rule"}}`` with the status on
the error; ``field`` is a dotted path into the request (``k``, ``filter.chunk.gt``,
``body``) and ``rule`` what it must satisfy.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..errors import ApiError
from .models import ErrorBody, ErrorDetail

__all__ = ["ApiError", "BodyLimitMiddleware", "error_response", "from_validation_error"]


class AsciiJSONResponse(JSONResponse):
    """JSON escaped to ASCII: an error message that quotes a client's string cannot fail
    to encode (a lone surrogate has no UTF-8 form) and so cannot turn a 4xx into a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def error_response(err: ApiError) -> JSONResponse:
    detail = ErrorDetail(code=err.code, message=err.message, field=err.field, rule=err.rule)
    return AsciiJSONResponse(
        ErrorBody(error=detail).model_dump(), status_code=err.status, headers=err.headers
    )


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, reading at most ``max_bytes + 1`` bytes."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        too_large = ApiError(
            413,
            "body_too_large",
            f"request body over {self.max_bytes} bytes; send a shorter query or vector",
            field="body",
            rule=f"at most {self.max_bytes} bytes",
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await error_response(too_large)(scope, receive, send)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await error_response(too_large)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def from_validation_error(exc: RequestValidationError) -> ApiError:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request", "type": ""}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"] or ["body"]
    field = ".".join(loc)
    if first.get("type") == "json_invalid":
        return ApiError(
            400, "malformed_json", "the body is not valid JSON", field="body", rule="json_invalid"
        )
    rule = str(first.get("msg", "invalid"))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ApiError(400, "invalid_request", f"{field}: {rule}{more}", field=field, rule=rule)
