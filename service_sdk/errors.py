"""The two ways a service fails: one request, or the whole model.

Kept free of any MMS or MXNet import so a vendored copy works anywhere.
"""
from __future__ import annotations

from http import HTTPStatus


class ServiceError(Exception):
    """The model cannot be served (missing files, bad signature, wrong device).

    Raised from ``initialize``; with a module-level ``handle`` entry point MMS
    then fails the model's registration instead of serving a broken model.
    """


class RequestError(Exception):
    """One request is bad; only its own slot of the batch fails.

    ``status`` must be a 4xx code: the client sent something the model cannot
    use (empty body, undecodable image, malformed JSON, wrong shape, an image
    too large to decode safely). The other requests of the batch still get
    their predictions.
    """

    def __init__(self, message: str, status: int = HTTPStatus.BAD_REQUEST, phrase: str | None = None):
        if not 400 <= int(status) < 500:
            raise ValueError(f"RequestError status must be 4xx, got {status}")
        super().__init__(message)
        self.message = message
        self.status = int(status)
        self.phrase = phrase or HTTPStatus(self.status).phrase

    def to_body(self) -> dict:
        """The JSON error document returned to the client in place of a prediction."""
        return {"code": self.status, "type": self.phrase, "message": self.message}
