"""Online resharding rate: keys and slots moved per second while clients write.

Usage: ``python -m bench.cluster_reshard [--shards 3] [--replicas 1] [--keys 20000]``;
the cluster benchmark (``memvec bench --only cluster``) calls :func:`measure_reshard_rate`.

Starts a cluster on Kafka logs (:func:`bench.cluster_failover.start_kafka_cluster`: each
shard's nodes on their own topic, automatic failover on), loads ``keys`` hashes with a
``dim``-float vector through ``RedisCluster``, starts a :class:`Workload` writing
meanwhile, and moves ``fraction`` of shard 0's slots to shard 1 with
:class:`store.cluster.reshard.Resharder` (what ``memvec cluster reshard`` runs). Reports
keys/s and slots/s of the move, and ``lost``: acknowledged writes (the loaded documents
and the workload's) that the cluster does not return afterwards (must be 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis

from bench.cluster_failover import KafkaCluster, Workload, broker, start_kafka_cluster

__all__ = ["load_documents", "measure_reshard_rate", "reshard"]


def load_documents(cluster: KafkaCluster, keys: int, dim: int, prefix: str = "doc") -> int:
    """HSET ``keys`` documents (a vector and a number) through a cluster pipeline."""
    rng = np.random.default_rng(0)
    with cluster.client() as client:
        for start in range(0, keys, 1000):
            pipe = client.pipeline()
            for i in range(start, min(keys, start + 1000)):
                vec = rng.standard_normal(dim).astype(np.float32).tobytes()
                pipe.hset(f"{prefix}:{i}", mapping={"v": vec, "n": i})
            pipe.execute()
    return keys


def reshard(cluster: KafkaCluster, slots: int, source: int, target: int, **options: Any) -> Any:
    """Move ``slots`` slots from shard index ``source`` to ``target`` (a ReshardReport)."""
    from store.cluster.reshard import Resharder
    from store.cluster.source import open_source

    topology = open_source(cluster.topology_url)
    topology.start()
    mover = Resharder(
        topology, lambda h, p: redis.Redis(host=h, port=p, socket_timeout=30), **options
    )
    try:
        ids = [cluster.shards[i][0].node_id() for i in (source, target)]
        return mover.reshard(slots, [ids[0]], ids[1])
    finally:
        mover.close()
        topology.stop()


def measure_reshard_rate(
    bootstrap: str | None = None,
    *,
    shards: int = 3,
    replicas: int = 1,
    keys: int = 20_000,
    dim: int = 32,
    fraction: float = 0.5,
) -> dict[str, Any]:
    """See the module docstring."""
    with broker(bootstrap) as address, tempfile.TemporaryDirectory() as tmp:
        cluster = start_kafka_cluster(address, Path(tmp), shards=shards, replicas=replicas)
        try:
            load_documents(cluster, keys, dim)
            workload = Workload(cluster.client, "rs")
            workload.start()
            owned = 16384 // shards
            slots = max(1, int(owned * fraction))
            report = reshard(cluster, slots, 0, 1)
            workload.stop.set()
            workload.join(30)
            with cluster.client() as client:
                lost = workload.check(client)
                pipe = client.pipeline()
                for i in range(keys):
                    pipe.hget(f"doc:{i}", "n")
                docs = pipe.execute()
            lost_docs = sum(1 for i, n in enumerate(docs) if n != str(i).encode())
            return {
                "shards": shards,
                "replicas": replicas,
                "documents": keys,
                "dim": dim,
                "slots_moved": report.slots,
                "keys_moved": report.keys,
                "seconds": round(report.seconds, 3),
                "keys_per_s": round(report.keys_per_s, 1),
                "slots_per_s": round(report.slots / report.seconds, 1),
                "workload_writes": workload.writes,
                "client_errors": len(workload.errors),
                "lost": len(lost) + lost_docs,
            }
        finally:
            cluster.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shards", type=int, default=3)
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--keys", type=int, default=20_000)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--fraction", type=float, default=0.5, help="of shard 0's slots to move")
    p.add_argument("--bootstrap", default=None, help="a running Kafka broker (default: tansu)")
    args = p.parse_args(argv)
    started = time.monotonic()
    result = measure_reshard_rate(
        args.bootstrap,
        shards=args.shards,
        replicas=args.replicas,
        keys=args.keys,
        dim=args.dim,
        fraction=args.fraction,
    )
    result["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=2))
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
