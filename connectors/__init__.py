"""memvec's connectors: S3, Kafka, Kinesis, SQS and SageMaker adapters.

Not built yet (see the connectors issue); the package exists so the layout and the import
direction (pipeline -> connectors -> store) are fixed from the start.
"""

__all__: list[str] = []
