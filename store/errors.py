"""The store's exception tree.

Every error a store command can raise is a :class:`StoreError`. The class carries the
behaviour callers need, so retry loops, RESP replies and HTTP responses read attributes
instead of chaining ``isinstance`` checks:

* ``prefix``: the RESP error prefix (``ERR``, ``WRONGTYPE``, ...), sent as ``-PREFIX msg``;
* ``retriable``: whether the same call may succeed if simply tried again later;
* ``http_status``: what an HTTP front end answers for it.

::

    StoreError                      ERR        (base; never raised bare)
    ├── CommandError                ERR        bad command, arity, syntax, argument value
    │   ├── UnknownCommandError     ERR        "unknown command '...'"
    │   ├── ArityError              ERR        "wrong number of arguments for '...' command"
    │   ├── SyntaxErr               ERR        "syntax error"
    │   ├── QuerySyntaxError        (none)     FT.SEARCH query or schema that does not parse
    │   ├── AclError                ERR        an ACL rule that does not parse (ACL SETUSER,
    │   │                                      the ACL file)
    │   └── ProtocolError           ERR        the client broke the RESP framing (the
    │                                          connection is closed after the reply)
    ├── WrongTypeError              WRONGTYPE  operation against a key holding another kind of value
    ├── IndexError_                 (none)     index missing / already exists / bad vector blob
    │   └── DocumentRejected        ERR        a field value its type refuses (``field``)
    ├── ReadOnlyError               READONLY   write sent to a replica
    ├── NoAuthError                 NOAUTH     command before AUTH
    ├── NoPermError                 NOPERM     ACL denies the command or key
    ├── OutOfMemoryError            OOM        write past maxmemory (retriable)
    ├── LoadingError                LOADING    the node is still replaying its log (retriable)
    ├── ExecAbortError              EXECABORT  MULTI queued a command that failed to queue
    ├── DurabilityError             ERR        the log could not make a write durable (undone;
    │   │                                      writes refused until the log takes one again)
    │   ├── RecordVoidedError       ERR        the awaited record was dropped by a rewind
    │   └── LogCorruptError         ERR        recovery found damage before the tail
    ├── SnapshotError               ERR        a snapshot could not be read or stored
    │   ├── SnapshotCorruptError    ERR        a snapshot failed its checksum (recovery falls
    │   │                                      back to the previous one)
    │   └── SnapshotStoreError      ERR        the object store failed (retriable)
    ├── ReplicationError            ERR        between nodes: the link, its stream, epochs
    │   ├── NoReplicasError         NOREPLICAS too few replicas acked a write (retriable)
    │   ├── StreamError             ERR        the peer sent something outside the stream
    │   │                                      format (retriable: the replica reconnects)
    │   ├── LinkTLSError            ERR        the link's TLS failed; the message names the
    │   │                                      option to fix
    │   └── FencedError             ERR        the peer (or a record) carries an epoch older
    │                                          than one this node has seen
    ├── ServerError                 ERR        the server cannot start (port in use, data
    │                                          directory locked, bad TLS files)
    └── ClusterError                ERR        cluster mode routing (store.cluster.routing)
        ├── MovedError              MOVED      the key's slot is served by another node
        ├── AskError                ASK        the slot is migrating; ask the target once
        ├── CrossSlotError          CROSSSLOT  the keys of one request are in several slots
        ├── ClusterDownError        CLUSTERDOWN a slot has no owner / the cluster is down
        └── TryAgainError           TRYAGAIN   a multi-key request during a slot's
                                               migration (retriable)

Errors are raised where they happen and defined here only; modules that raised them
before this tree existed (``store.server.acl``, ``store.resp.parser``,
``store.snapshot.format``, ``store.replication.protocol`` ...) import them from here, so
the old import paths keep working.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every store error. ``str(err)`` is the message without the prefix."""

    prefix = "ERR"
    retriable = False
    http_status = 500

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def resp_line(self) -> str:
        """The error as Redis sends it, without the leading ``-`` and line ending."""
        if not self.prefix:  # a module's error (RM_ReplyWithError): the text alone
            return self.message
        if self.message.startswith(self.prefix + " "):
            return self.message
        return f"{self.prefix} {self.message}"


def mark_module_error(command: str, exc: StoreError) -> StoreError:
    """``exc``, raised by the handler of ``command``, sent bare (no ``ERR``) if the
    command is RediSearch's (``FT.*``): RedisModule_ReplyWithError sends the text alone,
    so its first word is the code clients and errorstats see. Arity and unknown-command
    errors keep ``ERR``, as Redis core sends them."""
    if (
        command.startswith("FT.")
        and exc.prefix == "ERR"
        and not isinstance(exc, (ArityError, UnknownCommandError))
    ):
        exc.prefix = ""
    return exc


class CommandError(StoreError):
    """The command, its arguments or its syntax is wrong. Fix the call; retrying won't help."""

    http_status = 400


class UnknownCommandError(CommandError):
    @classmethod
    def for_command(cls, name: str, args: list[bytes]) -> UnknownCommandError:
        shown = " ".join(f"'{a.decode('utf-8', 'replace')}'" for a in args[:20])
        return cls(
            f"unknown command '{name}', with args beginning with: {shown}" + (" " if args else "")
        )


class ArityError(CommandError):
    @classmethod
    def for_command(cls, name: str) -> ArityError:
        # RediSearch registers its commands upper case and Redis names the registered
        # name in the error ('FT.INFO'); core commands are registered lower case.
        shown = name.upper() if name.upper().startswith("FT.") else name.lower()
        return cls(f"wrong number of arguments for '{shown}' command")


class SyntaxErr(CommandError):
    def __init__(self, message: str = "syntax error") -> None:
        super().__init__(message)


class QuerySyntaxError(CommandError):
    """An FT.* query, schema or option list that does not parse; the message says where.

    Sent bare (no ``ERR``), as RediSearch does: a module's ``RM_ReplyWithError`` sends
    its text as is, so its first word is the error code clients see."""

    prefix = ""


class WrongTypeError(StoreError):
    prefix = "WRONGTYPE"
    http_status = 409

    def __init__(
        self, message: str = "Operation against a key holding the wrong kind of value"
    ) -> None:
        super().__init__(message)


class IndexError_(StoreError):
    """Index missing, already existing, or a document that does not fit the index schema.
    Sent bare (no ``ERR``), as RediSearch does (see :class:`QuerySyntaxError`)."""

    prefix = ""
    http_status = 400


class ReadOnlyError(StoreError):
    prefix = "READONLY"
    http_status = 503

    def __init__(self, message: str = "You can't write against a read only replica.") -> None:
        super().__init__(message)


class NoAuthError(StoreError):
    prefix = "NOAUTH"
    http_status = 401

    def __init__(self, message: str = "Authentication required.") -> None:
        super().__init__(message)


class NoPermError(StoreError):
    prefix = "NOPERM"
    http_status = 403


class OutOfMemoryError(StoreError):
    prefix = "OOM"
    retriable = True
    http_status = 507

    def __init__(
        self, message: str = "command not allowed when used memory > 'maxmemory'."
    ) -> None:
        super().__init__(message)


class LoadingError(StoreError):
    prefix = "LOADING"
    retriable = True
    http_status = 503

    def __init__(self, message: str = "Redis is loading the dataset in memory") -> None:
        super().__init__(message)


class ExecAbortError(StoreError):
    prefix = "EXECABORT"

    def __init__(self, message: str = "Transaction discarded because of previous errors.") -> None:
        super().__init__(message)


class DurabilityError(StoreError):
    """The transaction log failed (disk full, I/O error, fenced epoch).

    The write was not acknowledged and is undone: the engine rewinds the log to its
    durable end and rolls memory back to it, refuses writes while the log fails and
    resumes them by itself once the log takes a write again (docs/durability.md). A log
    that cannot rewind (Kafka, a failed truncation) refuses writes until restart.
    """

    retriable = False
    http_status = 503


class RecordVoidedError(DurabilityError):
    """Waiting for a log record that a rewind dropped after a failure: its write was
    undone. The failure is already known; this does not fail the log again."""


class LogCorruptError(DurabilityError):
    """Recovery found a damaged record before the tail of the log.

    ``path`` and ``offset`` locate the first bad byte; ``repair_command`` is the exact
    command that truncates the log there (losing everything after it).
    """

    def __init__(self, message: str, *, path: str, offset: int, repair_command: str) -> None:
        super().__init__(message)
        self.path = path
        self.offset = offset
        self.repair_command = repair_command


class AclError(CommandError):
    """A rule that does not parse; the message names it as Redis does."""


class ProtocolError(CommandError):
    """The client broke the RESP framing. Reply with ``-ERR <message>`` and close the connection.

    ``str(err)`` is exactly the text Redis sends after ``-ERR ``, for example
    ``Protocol error: invalid bulk length``.
    """


class DocumentRejected(IndexError_):
    """A document cannot be indexed: ``field`` holds a value its type refuses. Counted as
    an indexing failure, never a reply of RediSearch's, so it keeps ``ERR``."""

    prefix = "ERR"

    def __init__(self, message: str, *, field: bytes) -> None:
        super().__init__(message)
        self.field = field


class SnapshotError(StoreError):
    """A snapshot could not be read, written or stored; see the subclasses."""


class SnapshotCorruptError(SnapshotError):
    """A snapshot file is truncated, damaged or not a snapshot at all.

    ``path`` names the file, ``offset`` the first byte found wrong (or ``None``),
    ``section`` the damaged section's name when the damage is inside one.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str,
        offset: int | None = None,
        section: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.offset = offset
        self.section = section


class SnapshotStoreError(SnapshotError):
    """The object store failed (network, permissions, missing bucket); retry or fix access."""

    retriable = True


class ReplicationError(StoreError):
    """Something between two nodes failed: the replication link, its stream or an epoch."""


class NoReplicasError(ReplicationError):
    prefix = "NOREPLICAS"
    retriable = True

    def __init__(self, message: str = "Not enough good replicas to write.") -> None:
        super().__init__(message)


class StreamError(ReplicationError):
    """The peer sent something that is not part of the stream format.

    Retriable: the replica drops the link and reconnects (a full resync if need be).
    """

    retriable = True


class LinkTLSError(ReplicationError):
    """The TLS part of the link failed; the message says which option to fix."""


class FencedError(ReplicationError):
    """The primary (or a record) carries an epoch older than one this node has seen."""


class ServerError(StoreError):
    """The server cannot start (port in use, data directory locked, bad TLS files)."""


class ClusterError(StoreError):
    """Cluster-mode routing refused the request (the subclass says how to go on)."""


class MovedError(ClusterError):
    """``MOVED <slot> <host>:<port>``: another node serves the slot; clients update their map."""

    prefix = "MOVED"


class AskError(ClusterError):
    """``ASK <slot> <host>:<port>``: the slot is migrating; send ASKING then the command."""

    prefix = "ASK"


class CrossSlotError(ClusterError):
    prefix = "CROSSSLOT"

    def __init__(self, message: str = "Keys in request don't hash to the same slot") -> None:
        super().__init__(message)


class ClusterDownError(ClusterError):
    prefix = "CLUSTERDOWN"
    retriable = True


class TryAgainError(ClusterError):
    prefix = "TRYAGAIN"
    retriable = True

    def __init__(self, message: str = "Multiple keys request during rehashing of slot") -> None:
        super().__init__(message)
