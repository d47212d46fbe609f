"""Errors a client can act on: an HTTP status, a stable code to branch on, and what to do."""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """Answered as `{"error": code, "message": message}` with `status` and `headers`."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}
