"""Where an AWS connector connects: one value for the endpoint, region and credentials.

Every AWS connector (S3, SQS, Kinesis with its DynamoDB lease table, SageMaker) takes an
:class:`AwsEndpoint` and builds its boto3 client with :func:`make_aws_client`, so the
connection arguments are written once. Each field left ``None`` falls back to boto3's usual
chain: ``AWS_ENDPOINT_URL``/the service's AWS endpoint, ``AWS_DEFAULT_REGION`` or the
profile's region, and credentials from the environment, the profile or the instance role.
A custom ``endpoint_url`` (moto server, LocalStack, MinIO) switches S3 to path-style
addressing, since an address like ``http://127.0.0.1:5000`` cannot carry the bucket as a
DNS label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["AwsCredentials", "AwsEndpoint", "endpoint_or_url", "make_aws_client"]


@dataclass(frozen=True)
class AwsCredentials:
    """Static credentials; prefer the environment or an instance role outside tests."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # keeps secrets out of logs and tracebacks
        return f"AwsCredentials(access_key_id={self.access_key_id!r}, secret_access_key=***)"


@dataclass(frozen=True)
class AwsEndpoint:
    """Endpoint URL, region and credentials of one AWS (or AWS-compatible) account."""

    endpoint_url: str | None = None
    region_name: str | None = None
    credentials: AwsCredentials | None = None


def endpoint_or_url(endpoint: AwsEndpoint | None, endpoint_url: str | None) -> AwsEndpoint:
    """The endpoint a connector was given: ``endpoint``, or ``endpoint_url`` as shorthand for
    ``AwsEndpoint(endpoint_url)``, or boto3's defaults when neither is. Both at once is a
    ``ValueError``: one of them would be silently ignored."""
    if endpoint is not None and endpoint_url is not None:
        raise ValueError("pass endpoint or endpoint_url, not both")
    if endpoint is not None:
        return endpoint
    return AwsEndpoint(endpoint_url=endpoint_url)


def make_aws_client(
    service: str,
    endpoint: AwsEndpoint | None = None,
    *,
    max_attempts: int | None = None,
    read_timeout_s: float | None = None,
    **config: Any,
) -> Any:
    """A boto3 client for ``service`` at ``endpoint`` (boto3's defaults when ``None``).

    ``max_attempts`` caps botocore's own retries (standard mode; 1 turns them off for a
    connector that retries itself); ``read_timeout_s`` must exceed any long poll; other
    keyword arguments go to ``botocore.config.Config``. Each call builds its own session,
    so clients are safe to create from any thread.
    """
    import boto3
    from botocore.config import Config

    endpoint = endpoint or AwsEndpoint()
    options: dict[str, Any] = dict(config)
    if service == "s3" and endpoint.endpoint_url:
        options.setdefault("s3", {"addressing_style": "path"})
    if max_attempts is not None:
        options["retries"] = {"mode": "standard", "total_max_attempts": max_attempts}
    if read_timeout_s is not None:
        options["read_timeout"] = read_timeout_s
    creds = endpoint.credentials
    session: Any = boto3.session.Session()
    return session.client(
        service,
        endpoint_url=endpoint.endpoint_url,
        region_name=endpoint.region_name,
        aws_access_key_id=creds.access_key_id if creds else None,
        aws_secret_access_key=creds.secret_access_key if creds else None,
        aws_session_token=creds.session_token if creds else None,
        config=Config(**options),
    )
