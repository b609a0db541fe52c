"""memvec's connectors: S3, Kafka, Kinesis, SQS and SageMaker behind small interfaces.

Every AWS connector takes an :class:`AwsEndpoint` (endpoint URL, region, credentials) and
every Kafka one a bootstrap address, so the same code runs against AWS, moto server,
LocalStack, MSK or any Kafka. Interfaces: :mod:`connectors.base`;
errors: :mod:`connectors.errors`. Everything not in ``__all__`` may move.
"""

from .aws import AwsCredentials, AwsEndpoint, make_aws_client
from .base import Batch, ObjectData, ObjectStore, ObjectSummary, Record, Source
from .errors import (
    AccessDenied,
    CommitRejected,
    ConnectorError,
    EndpointUnavailable,
    MalformedEvent,
    MalformedResponse,
    NotFound,
    ObjectTooLarge,
    Throttled,
)
from .kafka_config import KafkaSecurity
from .kafka_sink import KafkaSink
from .kafka_source import KafkaSource
from .kinesis import KinesisSource
from .leases import FileCheckpointStore, LeaseTable
from .memory import MemoryLog, MemoryObjectStore, MemorySource
from .s3 import S3ObjectStore
from .s3_events import S3Event, compare_sequencers, is_older, parse_s3_events
from .sagemaker import SageMakerEndpoint
from .sqs import SqsSink, SqsSource

__all__ = [
    "AccessDenied",
    "AwsCredentials",
    "AwsEndpoint",
    "Batch",
    "CommitRejected",
    "ConnectorError",
    "EndpointUnavailable",
    "FileCheckpointStore",
    "KafkaSecurity",
    "KafkaSink",
    "KafkaSource",
    "KinesisSource",
    "LeaseTable",
    "MalformedEvent",
    "MalformedResponse",
    "MemoryLog",
    "MemoryObjectStore",
    "MemorySource",
    "NotFound",
    "ObjectData",
    "ObjectStore",
    "ObjectSummary",
    "ObjectTooLarge",
    "Record",
    "S3Event",
    "S3ObjectStore",
    "SageMakerEndpoint",
    "Source",
    "SqsSink",
    "SqsSource",
    "Throttled",
    "compare_sequencers",
    "is_older",
    "make_aws_client",
    "parse_s3_events",
]
