"""Batched, pipelined reading of znodes (data, Stat, ACL, child names).

Per batch of paths: getData for every node, then getChildren for the nodes whose Stat says they
have children, and getACL for every node. Three transports give identical results:
- `multiread` on RawSessions (no auth / digest): one multiRead of getData plus all getACLs in
  a single write, then one multiRead of getChildren (ZooKeeper >= 3.6); batches take turns
  over a few sessions so the server handles them in parallel. With `KnownAcls` from the
  previous backup that already reach the batch's paths, getACL goes only to the nodes whose
  ACL version they do not hold, in the same write as the getChildren;
- `multiread` through kazoo (SASL sessions): the same multiRead via kazoo's `_call`, getACL via
  pipelined get_acls_async (multiRead does not accept getACL);
- `pipelined` (servers without multiRead): kazoo's get_async / get_children_async /
  get_acls_async per node.

A batch is retried as a whole (kazoo's KazooRetry, which waits for the reconnect) when the
connection drops, so a node is neither duplicated nor dropped; a node deleted during the walk
(NoNode) is reported as None.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from kazoo.client import KazooClient
from kazoo.exceptions import EXCEPTIONS, NoNodeError, OperationTimeoutError, UnimplementedError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import ZnodeStat
from kazoo.retry import KazooRetry
from kazoo.security import ACL

from executor.known_acls import KnownAcls
from executor.stream import acl_version, path_key
from executor.zk.multiread import (
    GET_CHILDREN,
    GET_DATA,
    DataResult,
    ErrorResult,
    multi_read_async,
)
from executor.zk.rawsession import RawSession

ReadMode = Literal["auto", "multiread", "pipelined"]
NO_NODE = NoNodeError.code
UNIMPLEMENTED = UnimplementedError.code


@dataclass(slots=True)
class ZNode:
    """One node as read: data (None = null), Stat, ACL and sorted child names."""

    path: str
    data: bytes | None
    stat: ZnodeStat
    acl: Sequence[ACL]
    children: list[str] = field(default_factory=list)


# A request larger than jute.maxbuffer (1,048,575 B by default) makes the server drop the
# connection, so a batch's multiRead also stays under this many bytes of paths, whatever the
# node count (very long names would otherwise overflow it and fail on every retry).
MAX_REQUEST_BYTES = 512 * 1024
_OP_OVERHEAD = 16  # per sub-request: header, path length, watch flag


def fitting_count(paths: list[str], start: int, most: int) -> int:
    """How many of `paths[start:]` (at most `most`, at least one) fit one request."""
    total, count = 0, 0
    for path in paths[start : start + most]:
        total += len(path.encode()) + _OP_OVERHEAD
        if count and total > MAX_REQUEST_BYTES:
            break
        count += 1
    return count


def request_chunks(paths: list[str], most: int) -> Iterator[list[str]]:
    """`paths` cut into consecutive chunks of at most `most` that each fit one request."""
    start = 0
    while start < len(paths):
        count = fitting_count(paths, start, most)
        yield paths[start : start + count]
        start += count


def _raise_for(code: int) -> None:
    raise EXCEPTIONS[code]()


@dataclass
class ReaderSettings:
    """Tuning: nodes per batch are derived from `batch_bytes` and the mean node size seen."""

    batch_bytes: int = 512 * 1024
    max_batch_nodes: int = 2000
    in_flight: int = 8
    pipelined_window: int = 32
    timeout: float = 30.0
    retry_deadline: float = 120.0


class NodeReader:
    """Reads batches of znodes through a kazoo session (and a RawSession when given)."""

    def __init__(
        self,
        client: KazooClient,
        mode: ReadMode,
        settings: ReaderSettings,
        sessions: list[RawSession] | None = None,
        known_acls: KnownAcls | None = None,
    ):
        self.client = client
        self.settings = settings
        self.sessions = sessions or []
        self.known_acls = known_acls
        self.acls_reused = 0  # ACLs taken from `known_acls` instead of a getACL
        self._turn = 0
        self._mean_node_bytes = 256.0
        self._retry = KazooRetry(
            max_tries=-1, delay=0.1, max_delay=2.0, deadline=settings.retry_deadline
        )
        self.mode: ReadMode = self._retry(self._detect, mode)
        if self.mode == "pipelined":
            self.sessions = []  # old servers: kazoo does everything

    def next_session(self) -> RawSession | None:
        """The bulk-read session for the next batch (round robin; None = read via kazoo).
        Several sessions let the server work on batches in parallel: its per-request cost,
        not the network, bounds getACL throughput."""
        if not self.sessions:
            return None
        self._turn = (self._turn + 1) % len(self.sessions)
        return self.sessions[self._turn]

    @property
    def last_zxid(self) -> int:
        """Highest zxid seen in any bulk-read session's replies."""
        return max((session.last_zxid for session in self.sessions), default=0)

    # ---- strategy selection -------------------------------------------------------------
    def _detect(self, mode: ReadMode) -> ReadMode:
        if mode != "auto":
            return mode
        if self.sessions:
            session = self.sessions[0]
            (answer,) = session.collect(
                session.submit([session.multi_read_request([(GET_DATA, "/")])])
            )
            supported = not (isinstance(answer, ErrorResult) and answer.code == UNIMPLEMENTED)
        else:
            try:
                self._wait(multi_read_async(self.client, [(GET_DATA, "/")]))
                supported = True
            except UnimplementedError:
                supported = False
        return "multiread" if supported else "pipelined"

    # ---- batch sizing ---------------------------------------------------------------------
    def batch_size(self) -> int:
        """Nodes per batch: `batch_bytes` / mean bytes per node seen so far (>= 1)."""
        if self.mode == "pipelined":
            return self.settings.pipelined_window
        by_bytes = int(self.settings.batch_bytes / max(self._mean_node_bytes, 1.0))
        return max(1, min(self.settings.max_batch_nodes, by_bytes))

    def _learn(self, nodes: list[ZNode | None]) -> None:
        sizes = [len(n.path) + len(n.data or b"") + 80 + 12 * len(n.children) for n in nodes if n]
        if sizes:
            mean = sum(sizes) / len(sizes)
            self._mean_node_bytes = 0.7 * self._mean_node_bytes + 0.3 * mean

    # ---- public reads -----------------------------------------------------------------------
    def submit(self, paths: list[str]) -> _Batch:
        """Start reading `paths`; the returned batch's `result()` waits for it."""
        return _Batch(self, paths)

    def read(self, paths: list[str]) -> list[ZNode | None]:
        """Read `paths` now (one batch, or several when the paths are very long)."""
        chunks = list(request_chunks(paths, len(paths)))
        if len(chunks) == 1:
            return self.submit(paths).result()
        return [node for chunk in chunks for node in self.submit(chunk).result()]

    def stream(self, paths: list[str]) -> PathStream:
        """An ordered, pipelined reader of `paths` (nothing is sent until it is iterated
        or `prefetch` is called)."""
        return PathStream(self, paths)

    def read_data(self, paths: list[str]) -> list[DataResult | None]:
        """Data and Stat only (no ACL, no children) of `paths`; None for a missing node."""
        if not paths:
            return []
        out: list[DataResult | None] = []
        answers = [
            answer
            for chunk in request_chunks(paths, len(paths))
            for answer in self._retry(self._read_data_once, chunk)
        ]
        for result in answers:
            if isinstance(result, ErrorResult):
                if result.code != NO_NODE:
                    _raise_for(result.code)
                out.append(None)
            else:
                out.append(result)
        return out

    def _read_data_once(self, paths: list[str]) -> list[DataResult | ErrorResult]:
        if self.mode == "multiread":
            return self._wait(multi_read_async(self.client, [(GET_DATA, p) for p in paths]))
        return self._kazoo_each([self.client.get_async(p) for p in paths], _as_data)

    # ---- kazoo helpers --------------------------------------------------------------------
    def _wait(self, async_result):
        try:
            return async_result.get(timeout=self.settings.timeout)
        except KazooTimeoutError as exc:
            raise OperationTimeoutError(f"no answer within {self.settings.timeout} s") from exc

    def _kazoo_each(self, started: list, convert=lambda value: value) -> list:
        """Wait for per-node kazoo calls; NoNode becomes ErrorResult like in a multiRead."""
        out = []
        for async_result in started:
            try:
                out.append(convert(self._wait(async_result)))
            except NoNodeError:
                out.append(ErrorResult(NO_NODE))
        return out


class PathStream:
    """Reads a list of paths in order, keeping batches submitted ahead of the consumer.

    `ready` exposes nodes already read but not yet consumed, so a walker can start reading
    their children early (see walk.py).
    """

    def __init__(self, reader: NodeReader, paths: list[str]):
        self.reader = reader
        self._paths = paths
        self._next = 0
        self._pending: deque[_Batch] = deque()
        self.ready: deque[ZNode | None] = deque()

    def prefetch(self, batches: int) -> None:
        """Submit batches until `batches` are in flight (or no paths remain)."""
        while len(self._pending) < batches and self._next < len(self._paths):
            size = fitting_count(self._paths, self._next, self.reader.batch_size())
            chunk = self._paths[self._next : self._next + size]
            self._next += len(chunk)
            self._pending.append(self.reader.submit(chunk))

    def __iter__(self) -> Iterator[ZNode | None]:
        return self

    def __next__(self) -> ZNode | None:
        in_flight = self.reader.settings.in_flight
        while not self.ready:
            self.prefetch(in_flight)
            if not self._pending:
                raise StopIteration
            self.ready.extend(self._pending.popleft().result())
        self.prefetch(in_flight)
        return self.ready.popleft()


class _Batch:
    """Requests of one batch in flight: getData and getACL now, getChildren on `result()`."""

    def __init__(self, reader: NodeReader, paths: list[str]):
        self.reader = reader
        self.paths = paths
        self._sent = False
        try:
            self._start()
            self._sent = True
        except reader._retry.retry_exceptions:
            pass  # the session broke while sending (a member died): result() sends again

    def result(self) -> list[ZNode | None]:
        reader = self.reader
        try:
            nodes = self._collect() if self._sent else reader._retry(self._reread)
        except reader._retry.retry_exceptions:
            # connection lost mid-batch: read the whole batch again once reconnected
            nodes = reader._retry(self._reread)
        reader._learn(nodes)
        return nodes

    def _reread(self) -> list[ZNode | None]:
        self._start()
        return self._collect()

    # ---- transport-specific halves --------------------------------------------------------
    def _start(self) -> None:
        reader, paths = self.reader, self.paths
        self._session = reader.next_session()
        self._lookup = False
        if self._session is not None:
            session = self._session
            known = reader.known_acls
            # paths come sorted: once the known ACLs reach the last, getACL waits for misses
            self._lookup = known is not None and known.reaches(path_key(paths[-1]))
            requests = [session.multi_read_request([(GET_DATA, p) for p in paths])]
            if not self._lookup:
                requests += [session.get_acl_request(p) for p in paths]
            self._ticket = session.submit(requests)
            return
        client = reader.client
        if reader.mode == "multiread":
            self._data = multi_read_async(client, [(GET_DATA, p) for p in paths])
        else:
            self._data = [client.get_async(p) for p in paths]
        self._acls = [client.get_acls_async(p) for p in paths]

    def _data_and_acls(self) -> tuple[list, list]:
        """Data results and ACLs of the batch; an ACL is None where it is still to be read."""
        reader = self.reader
        if self._session is not None:
            data, *acls = self._session.collect(self._ticket)
            if isinstance(data, ErrorResult):
                _raise_for(data.code)
            if self._lookup:
                acls = [self._known_acl(p, r) for p, r in zip(self.paths, data, strict=True)]
            return data, acls
        if reader.mode == "multiread":
            data = reader._wait(self._data)
        else:
            data = reader._kazoo_each(self._data, _as_data)
        acls = reader._kazoo_each(self._acls, lambda answer: answer[0])
        return data, acls

    def _known_acl(self, path: str, result: DataResult | ErrorResult) -> object:
        if not isinstance(result, DataResult):
            return result  # the node is gone: nothing to look up
        stat = result.stat
        known = self.reader.known_acls
        assert known is not None
        acl = known.lookup(acl_version(path, stat.czxid, stat.ctime, stat.aversion))
        if acl is not None:
            self.reader.acls_reused += 1
        return acl

    def _children_and_acls(self, parents: list[str], unknown: list[str]) -> tuple[list, list]:
        """Child lists of `parents` and ACLs of `unknown` (one write on a bulk session)."""
        reader = self.reader
        if self._session is not None:
            session = self._session
            requests = [session.get_acl_request(p) for p in unknown]
            if parents:
                requests.insert(0, session.multi_read_request([(GET_CHILDREN, p) for p in parents]))
            if not requests:
                return [], []
            answers = session.collect(session.submit(requests))
            if not parents:
                return [], answers
            children, *acls = answers
            if isinstance(children, ErrorResult):
                _raise_for(children.code)
            return children, acls
        if not parents:
            return [], []
        ops = [(GET_CHILDREN, p) for p in parents]
        if reader.mode == "multiread":
            return reader._wait(multi_read_async(reader.client, ops)), []
        return reader._kazoo_each([reader.client.get_children_async(p) for p in parents]), []

    # ---- assembling nodes -----------------------------------------------------------------
    def _collect(self) -> list[ZNode | None]:
        data_results, acls = self._data_and_acls()
        parents = [
            path
            for path, result in zip(self.paths, data_results, strict=True)
            if isinstance(result, DataResult) and result.stat.numChildren > 0
        ]
        unknown = [path for path, acl in zip(self.paths, acls, strict=True) if acl is None]
        children, read_acls = self._children_and_acls(parents, unknown)
        children_of = dict(zip(parents, children, strict=True))
        acl_of = dict(zip(unknown, read_acls, strict=True))
        nodes: list[ZNode | None] = []
        for path, result, acl in zip(self.paths, data_results, acls, strict=True):
            if acl is None:
                acl = acl_of[path]
            if _missing(result) or _missing(acl):  # deleted before or during this batch
                nodes.append(None)
                continue
            children = children_of.get(path, [])
            if _missing(children):
                children = []
            nodes.append(ZNode(path, result.data, result.stat, acl, sorted(children)))
        return nodes


def _as_data(answer: tuple) -> DataResult:
    data, stat = answer
    return DataResult(data, stat)


def _missing(result: object) -> bool:
    """True for a NoNode answer; raises for any other error answer."""
    if isinstance(result, ErrorResult):
        if result.code != NO_NODE:
            _raise_for(result.code)
        return True
    return False
