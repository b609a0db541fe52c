"""Connection options shared by the Kafka source and sink: bootstrap, TLS and SASL (MSK).

The same code path talks to a local broker (tansu, plaintext), self-managed Kafka and
Amazon MSK; only these options differ. MSK's listeners by authentication method:

- TLS (port 9094): ``KafkaSecurity(security_protocol="SSL", ssl_context=...)``;
  ``ssl.create_default_context()`` trusts MSK's public CA. Add a client certificate to the
  context for mutual TLS.
- SASL/SCRAM (port 9096): ``security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512"``
  with ``sasl_plain_username``/``sasl_plain_password`` (the Secrets Manager secret).
- IAM (port 9098): ``security_protocol="SASL_SSL", sasl_mechanism="OAUTHBEARER"`` with a
  ``sasl_oauth_token_provider`` (an ``aiokafka.abc.AbstractTokenProvider``, e.g. wrapping
  ``aws-msk-iam-sasl-signer``).

Anything aiokafka accepts beyond these goes through the ``client_options`` mapping of the
source or sink, unchanged.
"""

from __future__ import annotations

import enum
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["KafkaClientState", "KafkaSecurity"]


class KafkaClientState(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


@dataclass(frozen=True)
class KafkaSecurity:
    """TLS/SASL settings, passed to aiokafka unchanged (its parameter names and defaults).

    ``security_protocol``: PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL.
    ``sasl_mechanism``: PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 | OAUTHBEARER | GSSAPI.
    ``ssl_context`` is required by aiokafka for SSL and SASL_SSL.
    """

    security_protocol: str = "PLAINTEXT"
    ssl_context: ssl.SSLContext | None = None
    sasl_mechanism: str | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: str | None = None
    sasl_kerberos_service_name: str = "kafka"
    sasl_kerberos_domain_name: str | None = None
    sasl_oauth_token_provider: Any = None

    def __post_init__(self) -> None:
        protocols = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}
        if self.security_protocol not in protocols:
            raise ValueError(
                f"security_protocol {self.security_protocol!r} is not one of {sorted(protocols)}"
            )
        if self.security_protocol in ("SSL", "SASL_SSL") and self.ssl_context is None:
            raise ValueError(
                f"security_protocol {self.security_protocol} needs an ssl_context: "
                "pass ssl.create_default_context() (plus a client certificate for mTLS)"
            )
        if self.security_protocol.startswith("SASL") and self.sasl_mechanism is None:
            raise ValueError(
                f"security_protocol {self.security_protocol} needs a sasl_mechanism "
                "(SCRAM-SHA-512 or OAUTHBEARER on MSK)"
            )

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaConsumer``/``AIOKafkaProducer``."""
        kwargs: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.ssl_context is not None:
            kwargs["ssl_context"] = self.ssl_context
        if self.sasl_mechanism is not None:
            kwargs.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_plain_username,
                sasl_plain_password=self.sasl_plain_password,
                sasl_kerberos_service_name=self.sasl_kerberos_service_name,
                sasl_kerberos_domain_name=self.sasl_kerberos_domain_name,
                sasl_oauth_token_provider=self.sasl_oauth_token_provider,
            )
        return kwargs


def client_kwargs(
    bootstrap_servers: str | list[str],
    security: KafkaSecurity | None,
    client_options: Mapping[str, Any] | None,
    **defaults: Any,
) -> dict[str, Any]:
    """aiokafka keyword arguments: ours, then security, then ``client_options`` (which win)."""
    kwargs: dict[str, Any] = {"bootstrap_servers": bootstrap_servers, **defaults}
    kwargs.update((security or KafkaSecurity()).as_kwargs())
    kwargs.update(client_options or {})
    return kwargs
