"""Subprocess used by the crash tests: writes documents and reports acknowledgements.

Usage: python -m tests.store.crash_writer DATA_DIR START THREADS

Each thread writes ``doc:<n>`` hashes (a 16-dim vector derived from n, a tag and a number)
through ``Engine.execute`` under ``appendfsync always`` and prints ``ack <n>`` only after
execute returned, i.e. after the write is durable. Every 50th document thread 0 also
deletes one of its own earlier, acknowledged documents (``deleting <n>`` before, ``del
<n>`` after the ack; ``delmiss <n>`` if the DEL found nothing, which the test refuses) and
now and then starts a BGSAVE, so kills land during snapshots too. It runs until killed.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np

from store import Engine, EngineConfig, FsyncPolicy, IndexError_

DIM = 16
CREATE = (
    f"FT.CREATE idx ON HASH PREFIX 1 doc: SCHEMA tag TAG n NUMERIC "
    f"vec VECTOR HNSW 6 TYPE FLOAT32 DIM {DIM} DISTANCE_METRIC L2"
)


def vector_for(n: int) -> bytes:
    rng = np.random.default_rng(n)
    return rng.standard_normal(DIM).astype(np.float32).tobytes()


def main() -> None:
    data_dir, start, threads = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    engine = Engine(EngineConfig(data_dir=data_dir, appendfsync=FsyncPolicy.ALWAYS)).start()
    try:
        engine.execute(*CREATE.split())
    except IndexError_:
        pass  # exists from an earlier run
    out = sys.stdout
    out_lock = threading.Lock()

    def say(line: str) -> None:
        with out_lock:
            out.write(line + "\n")
            out.flush()

    def writer(t: int) -> None:
        n = start + t
        while True:
            say(f"send {n}")
            engine.execute("HSET", f"doc:{n}", "vec", vector_for(n), "tag", f"t{n % 7}", "n", n)
            say(f"ack {n}")
            # thread 0 deletes one of its own documents, ~25 numbers back and acknowledged
            # already: a document of another thread may not be written yet (that thread
            # can lag by more than 25 numbers), and a DEL before its HSET deletes nothing
            back = threads * max(1, 25 // threads)
            if t == 0 and n % 50 == 0 and n - back >= start:
                victim = n - back
                say(f"deleting {victim}")
                removed = engine.execute("DEL", f"doc:{victim}")
                say(f"del {victim}" if removed == 1 else f"delmiss {victim}")
            if t == 0 and n % 200 == 0:
                engine.persistence.bgsave()
            n += threads

    workers = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    say("ready")
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
