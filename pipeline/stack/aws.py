"""The AWS side of a local stack, on the moto server: bucket, queues, S3->SQS notification.

:func:`setup_aws` does what the compose ``setup`` one-shot does, idempotently.
:func:`moto_endpoint` is the stack's moto endpoint with its region and dummy credentials,
the same ones :func:`child_env` gives the stack's processes; :func:`aws_client` is a boto3
client for it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from connectors.aws import AwsCredentials, AwsEndpoint, make_aws_client

from .state import BUCKET, DLQ_QUEUE, QUEUE

REGION = "us-east-1"
CREDENTIALS = AwsCredentials(access_key_id="testing", secret_access_key="testing")


def moto_endpoint(endpoint_url: str) -> AwsEndpoint:
    """The stack's moto server at ``endpoint_url``, with the stack's region and credentials."""
    return AwsEndpoint(endpoint_url=endpoint_url, region_name=REGION, credentials=CREDENTIALS)


def aws_client(service: str, endpoint_url: str) -> Any:
    """A boto3 client for ``service`` on the stack's moto server at ``endpoint_url``."""
    return make_aws_client(service, moto_endpoint(endpoint_url))


def child_env() -> dict[str, str]:
    """The AWS variables a stack process gets unless the environment already sets them."""
    return {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": CREDENTIALS.access_key_id,
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS.secret_access_key,
    }


def setup_aws(endpoint: str, bucket: str = BUCKET, visibility_timeout_s: int = 30) -> str:
    """Create the bucket, the event queue, the DLQ queue and the S3->SQS notification.

    Returns the event queue's URL. Idempotent: existing resources are reused. The visibility
    timeout is 30 s (compose uses 120) so a message held by a killed worker comes back soon.
    """
    s3, sqs = aws_client("s3", endpoint), aws_client("sqs", endpoint)
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
