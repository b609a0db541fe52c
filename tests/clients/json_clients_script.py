"""langchain-redis and redis-om against one server; run by tests/server/test_json_client_venv.py.

Runs inside ``.venv-clients`` (tests/harness/client_venv.py): those libraries pin
versions the project's own virtualenv cannot hold. ``python json_clients_script.py URL
PREFIX`` prints one JSON object with what each client saw; every key, index and
prefix it creates starts with PREFIX and is deleted before it exits.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def langchain_cache(url: str, prefix: str) -> dict[str, Any]:
    from langchain_core.outputs import Generation
    from langchain_redis import RedisCache

    cache = RedisCache(redis_url=url, ttl=600, prefix=f"{prefix}cache")
    cache.update("what is memvec?", "llm-a", [Generation(text="a vector store")])
    out = {
        "hit": [g.text for g in cache.lookup("what is memvec?", "llm-a") or []],
        "other_llm": cache.lookup("what is memvec?", "llm-b"),
        "miss": cache.lookup("unknown prompt", "llm-a"),
    }
    cache.clear()
    out["after_clear"] = cache.lookup("what is memvec?", "llm-a")
    return out


def langchain_history(url: str, prefix: str) -> dict[str, Any]:
    import redis
    from langchain_redis import RedisChatMessageHistory

    # RESP2: langchain-redis 0.2 reads FT.INFO as a flat list (redis-py 8 defaults to RESP3)
    client = redis.Redis.from_url(url, protocol=2)
    kwargs = {"redis_client": client, "key_prefix": f"{prefix}chat:", "index_name": f"{prefix}chat"}
    first = RedisChatMessageHistory(session_id="s1", **kwargs)
    other = RedisChatMessageHistory(session_id="s2", **kwargs)
    first.add_user_message("hello, what is a vector database?")
    first.add_ai_message("a database that searches vectors")
    other.add_user_message("unrelated session about vectors")
    out = {
        "messages": [(m.type, m.content) for m in first.messages],
        "other": [(m.type, m.content) for m in other.messages],
        # a word both messages hold as is
        "search": sorted(m["content"] for m in first.search_messages("database")),
        "count": len(first),
    }
    first.clear()
    out["after_clear"] = [m.content for m in first.messages]
    out["other_after_clear"] = [m.content for m in other.messages]
    other.clear()
    client.execute_command("FT.DROPINDEX", f"{prefix}chat", "DD")
    return out


def redis_om_models(url: str, prefix: str) -> dict[str, Any]:
    from redis_om import Field, JsonModel, Migrator, get_redis_connection

    db = get_redis_connection(url=url)

    class Customer(JsonModel, index=True):  # type: ignore[misc,call-arg]
        first_name: str = Field(index=True)
        last_name: str = Field(index=True)
        age: int = Field(index=True, sortable=True)
        bio: str = Field(index=True, full_text_search=True, default="")

        class Meta:
            database = db
            global_key_prefix = prefix

    Migrator().run()
    people = [("Ann", "Lee", 34, "likes vector search"), ("Bob", "Lee", 21, "plays chess"),
              ("Cy", "Ray", 47, "writes search engines")]  # fmt: skip
    for first, last, age, bio in people:
        Customer(first_name=first, last_name=last, age=age, bio=bio).save()
    found = Customer.find((Customer.last_name == "Lee") & (Customer.age > 25)).all()
    ordered = Customer.find(Customer.age >= 0).sort_by("-age").all()
    text = Customer.find(Customer.bio % "search").sort_by("age").all()
    out = {
        "found": [(c.first_name, c.age) for c in found],
        "ordered": [c.first_name for c in ordered],
        "text": [c.first_name for c in text],
        "count": Customer.find(Customer.age < 40).count(),
        "get": Customer.get(found[0].pk).bio,
    }
    for c in ordered:
        Customer.delete(c.pk)
    index = Customer.Meta.index_name
    db.execute_command("FT.DROPINDEX", index)
    return out


def main() -> None:
    url, prefix = sys.argv[1], sys.argv[2]
    result = {
        "langchain_cache": langchain_cache(url, prefix),
        "langchain_history": langchain_history(url, prefix),
        "redis_om": redis_om_models(url, prefix),
    }
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
