"""uvicorn's HTTP/1.1 protocol with request read deadlines: ``with_read_timeouts()``.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but has no deadline
for reading a request: a client that sends half a header, or a header and half a body,
holds its socket (and, with many such clients, the process's file descriptors) forever.
This subclass of uvicorn's h11 protocol adds the two deadlines nginx calls
``client_header_timeout`` and ``client_body_timeout``:

- header: from the moment the connection opens (or the previous reply was sent) until
  h11 has parsed the request's whole header;
- body: from then until the whole body (``EndOfMessage``) is in.

Each deadline is armed once per phase: bytes trickled a few at a time do not extend it.
When it passes, the connection is closed without a reply (the client is not reading one
we could trust to arrive); a request the app is already reading sees ``http.disconnect``.
The h11 protocol is used rather than httptools so that the phase is h11's own state.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["with_read_timeouts"]


class ReadDeadlineProtocol(H11Protocol):
    """:class:`H11Protocol` that closes a connection whose request is not read in time."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_phase: object = None
        self.read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.track_read_phase()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self.track_read_phase()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.track_read_phase()

    def connection_lost(self, exc: Exception | None) -> None:
        self.arm(None, 0.0)
        super().connection_lost(exc)

    def track_read_phase(self) -> None:
        """Arm the deadline of the phase h11 is in, if it changed; disarm when none is."""
        state = self.conn.their_state
        if state is h11.IDLE:
            self.arm(h11.IDLE, self.header_timeout_s)
        elif state is h11.SEND_BODY:
            self.arm(h11.SEND_BODY, self.body_timeout_s)
        else:  # DONE, MUST_CLOSE, CLOSED, ERROR: nothing more to read for now
            self.arm(None, 0.0)

    def arm(self, phase: object, timeout_s: float) -> None:
        if phase is self.read_phase:
            return
        if self.read_deadline is not None:
            self.read_deadline.cancel()
            self.read_deadline = None
        self.read_phase = phase
        if phase is not None and not self.transport.is_closing():
            self.read_deadline = self.loop.call_later(timeout_s, self.read_timed_out, phase)

    def read_timed_out(self, phase: object) -> None:
        self.read_deadline = None
        if phase is self.read_phase and not self.transport.is_closing():
            peer = "{}:{}".format(*self.client) if self.client else "a connection"
            part = "header" if phase is h11.IDLE else "body"
            self.logger.info("closing %s: request %s not received in time", peer, part)
            self.transport.close()


def with_read_timeouts(header_timeout_s: float, body_timeout_s: float) -> type[H11Protocol]:
    """The protocol class to give ``uvicorn.Config(http=...)``."""
    return type(
        "ReadDeadlineProtocol",
        (ReadDeadlineProtocol,),
        {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s},
    )
