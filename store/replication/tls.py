"""TLS on the replication link (``--tls-replication yes``, Redis's option names).

Contract:

* :class:`LinkTLS` holds what a node needs to reach another node's TLS port as a client:
  the CA that must have signed the peer's certificate (``--tls-ca-cert-file``; the
  system's CAs without it) and the certificate it presents (``--tls-client-cert-file`` /
  ``--tls-client-key-file``, else ``--tls-cert-file`` / ``--tls-key-file``, as Redis
  picks them). The peer's certificate must also name the host dialled (hostname check
  on, unlike Redis).
* :func:`open_link` is how a replica reaches its primary and how FAILOVER reaches its
  target. Every TLS failure becomes :class:`LinkTLSError`, whose message names the option
  to fix; nothing here retries.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path

from store.aio import within

from ..errors import LinkTLSError


@dataclass(frozen=True)
class LinkTLS:
    """TLS settings of the replication link (and of FAILOVER's call to its target).

    The server builds it from its options (:func:`store.server.app.link_settings`):
    ``cert_file``/``key_file`` are the client pair, else the server pair, as Redis picks."""

    ca_cert_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def context(self) -> ssl.SSLContext:
        """A client context that verifies the primary; raises :class:`LinkTLSError`."""
        try:
            ctx = ssl.create_default_context(
                cafile=None if self.ca_cert_file is None else str(self.ca_cert_file)
            )
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if self.cert_file is not None:
                ctx.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise LinkTLSError(
                f"could not load the replication TLS files (CA {self.ca_cert_file}, "
                f"certificate {self.cert_file}, key {self.key_file}): {exc}; check "
                "--tls-ca-cert-file and --tls-client-cert-file/--tls-client-key-file "
                "(or --tls-cert-file/--tls-key-file)"
            ) from exc
        return ctx


def tls_failure(exc: ssl.SSLError, host: str, port: int) -> LinkTLSError:
    """What to fix when the TLS session with ``host:port`` failed with ``exc``."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return LinkTLSError(
            f"TLS: the certificate of {host}:{port} was not accepted "
            f"({exc.verify_message or exc}); check --tls-ca-cert-file on this replica (it "
            f"must hold the CA that signed the primary's certificate) and that the "
            f"certificate names {host} (DNS or IP subject alternative name)"
        )
    return LinkTLSError(
        f"TLS handshake with {host}:{port} failed ({exc.reason or exc}); check that "
        "--replicaof names the primary's --tls-port, and if the primary requires client "
        "certificates (--tls-auth-clients yes) give this replica --tls-client-cert-file/"
        "--tls-client-key-file signed by a CA in the primary's --tls-ca-cert-file"
    )


async def open_link(
    host: str, port: int, tls: LinkTLS | None, timeout_s: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to a node's RESP port (TLS when ``tls``); TLS errors become
    :class:`LinkTLSError` with the fix in the message."""
    ctx = None if tls is None else tls.context()
    try:
        return await within(
            asyncio.open_connection(host, port, ssl=ctx, ssl_handshake_timeout=timeout_s)
            if ctx is not None
            else asyncio.open_connection(host, port),
            timeout_s,
        )
    except ssl.SSLError as exc:
        raise tls_failure(exc, host, port) from exc
