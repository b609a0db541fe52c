"""RedisJSON's path languages over :class:`store.datatypes.json_doc.JsonDoc` documents."""
