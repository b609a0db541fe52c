"""XREADGROUP with an id (a consumer re-reading its pending entries) takes COUNT entries.

It used to copy the consumer's whole pending list before applying COUNT (250,000
pending: 23 ms a call against the peer's 83 us). Held here: the page is the COUNT oldest
entries after the id, only those are re-delivered (their delivery counts rise, the
others' do not), deleted entries show as nil, and the pending list is walked only as far
as the page.
"""

from __future__ import annotations

from store import Engine, EngineConfig
from store.datatypes import stream_ids
from store.replies import NULL_ARRAY


def test_a_pending_page_takes_count_entries(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with Engine(EngineConfig(data_dir=None)) as e:
        ids = [e.execute("XADD", "s", "*", "n", str(i)) for i in range(2000)]
        e.execute("XGROUP", "CREATE", "s", "g", "0")
        e.execute("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
        e.execute("XDEL", "s", ids[1])
        walked = []
        real = stream_ids.SortedIDs.from_id

        def counting(self, start):  # type: ignore[no-untyped-def]
            for sid in real(self, start):
                walked.append(sid)
                yield sid

        monkeypatch.setattr(stream_ids.SortedIDs, "from_id", counting)
        [[_, page]] = e.execute("XREADGROUP", "GROUP", "g", "c", "COUNT", "3", "STREAMS", "s", "0")
        assert [entry[0] for entry in page] == ids[:3]
        assert page[1][1] is NULL_ARRAY  # deleted since it was delivered: [id, nil]
        assert len(walked) <= 4
        pending = e.execute("XPENDING", "s", "g", "-", "+", "5")
        assert [p[3] for p in pending] == [2, 1, 2, 1, 1]  # a deleted one is not re-delivered
        [[_, rest]] = e.execute("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ids[1996])
        assert [entry[0] for entry in rest] == ids[1997:]
