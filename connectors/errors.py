"""The connectors' exception tree; foreign errors are translated at the seam.

::

    ConnectorError                 (base; ``retriable`` says whether trying again may help)
    ├── EndpointUnavailable        retriable: connection refused/reset, timeouts, 5xx
    ├── Throttled                  retriable: throughput exceeded, SlowDown, 429
    ├── AccessDenied               not retriable: credentials or permissions
    ├── NotFound                   not retriable: bucket/key/stream/queue/topic missing
    ├── ObjectTooLarge             not retriable: an object over the configured size limit
    ├── MalformedEvent             not retriable: an event/record that is not what it claims
    ├── MalformedResponse          not retriable: an endpoint answered something unparseable
    └── CommitRejected             retriable: a checkpoint/commit lost to a rebalance or a
                                   lease taken by another worker (redo from the last commit)

``from_botocore(exc)`` and ``from_kafka(exc)`` map the foreign errors; callers raise the
result ``from exc`` so the original stays attached.
"""

from __future__ import annotations


class ConnectorError(Exception):
    retriable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EndpointUnavailable(ConnectorError):
    retriable = True


class Throttled(ConnectorError):
    retriable = True


class AccessDenied(ConnectorError):
    pass


class NotFound(ConnectorError):
    pass


class ObjectTooLarge(ConnectorError):
    pass


class MalformedEvent(ConnectorError):
    pass


class MalformedResponse(ConnectorError):
    pass


class CommitRejected(ConnectorError):
    retriable = True


_THROTTLE_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "SlowDown",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
}
_NOT_FOUND_CODES = {
    "NoSuchKey",
    "NoSuchBucket",
    "NoSuchVersion",
    "404",
    "NotFound",
    "ResourceNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "ValidationError",
}
_ACCESS_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "InvalidAccessKeyId",
    "403",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "UnrecognizedClientException",
}


def from_botocore(exc: BaseException, what: str = "") -> ConnectorError:
    """Our error for a botocore/boto3 exception (``raise from_botocore(e, ...) from e``)."""
    import botocore.exceptions as bx

    where = f" ({what})" if what else ""
    if isinstance(exc, bx.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        text = f"{code}{where}: {exc}"
        if code in _THROTTLE_CODES or status == 429 or status == 503:
            return Throttled(text + "; backing off and retrying")
        if code in _NOT_FOUND_CODES or status == 404:
            return NotFound(text)
        if code in _ACCESS_CODES or status == 403:
            return AccessDenied(text + "; check the credentials and the IAM policy")
        if status >= 500:
            return EndpointUnavailable(text)
        return ConnectorError(text)
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionClosedError,
                        bx.ReadTimeoutError, bx.ConnectTimeoutError)):  # fmt: skip
        return EndpointUnavailable(
            f"endpoint unreachable{where}: {exc}; is the endpoint_url right?"
        )
    if isinstance(exc, bx.NoCredentialsError):
        return AccessDenied(
            f"no AWS credentials{where}: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    return ConnectorError(f"{type(exc).__name__}{where}: {exc}")


def from_kafka(exc: BaseException, what: str = "") -> ConnectorError:
    """Our error for an aiokafka exception, keeping aiokafka's own ``retriable`` flag."""
    from aiokafka import errors as kx

    where = f" ({what})" if what else ""
    text = f"{type(exc).__name__}{where}: {exc}"
    if isinstance(exc, (kx.CommitFailedError, kx.IllegalStateError)):
        return CommitRejected(text + "; the group rebalanced: resume from the last commit")
    if isinstance(exc, (kx.TopicAuthorizationFailedError, kx.GroupAuthorizationFailedError)):
        return AccessDenied(text)
    if isinstance(exc, kx.UnknownTopicOrPartitionError):
        return NotFound(text)
    if isinstance(exc, (kx.KafkaConnectionError, kx.NodeNotReadyError, kx.KafkaTimeoutError,
                        kx.RequestTimedOutError)):  # fmt: skip
        return EndpointUnavailable(text + "; is the bootstrap address right and the broker up?")
    err = ConnectorError(text)
    err.retriable = bool(getattr(exc, "retriable", False))
    return err
