"""The AWS side of a local stack, on the moto server: bucket, queues, S3->SQS notification.

:func:`setup_aws` does what the compose ``setup`` one-shot does, idempotently.
:func:`_aws_client` is a boto3 client for the moto endpoint with the stack's region and
dummy credentials (the same ones :mod:`pipeline.stack_launch` gives child processes).
"""

from __future__ import annotations

import contextlib
from typing import Any

from .stack_state import BUCKET, DLQ_QUEUE, QUEUE

_REGION = "us-east-1"
_DUMMY_CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _aws_client(service: str, endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=_REGION,
        aws_access_key_id=_DUMMY_CREDS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=_DUMMY_CREDS["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}),
    )


def setup_aws(endpoint: str, bucket: str = BUCKET, visibility_timeout_s: int = 30) -> str:
    """Create the bucket, the event queue, the DLQ queue and the S3->SQS notification.

    Returns the event queue's URL. Idempotent: existing resources are reused. The visibility
    timeout is 30 s (compose uses 120) so a message held by a killed worker comes back soon.
    """
    s3, sqs = _aws_client("s3", endpoint), _aws_client("sqs", endpoint)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    queue_url: str = sqs.create_queue(
        QueueName=QUEUE, Attributes={"VisibilityTimeout": str(visibility_timeout_s)}
    )["QueueUrl"]
    sqs.create_queue(QueueName=DLQ_QUEUE)
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn["Attributes"]["QueueArn"],
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                }
            ]
        },
    )
    return queue_url
