"""Batched, pipelined reading of znodes (data, Stat, ACL, child names).

Two strategies produce identical results:
- `multiread`: one multiRead of getData for a whole batch, then one multiRead of getChildren
  for the nodes whose Stat says they have children (ZooKeeper >= 3.6);
- `pipelined`: kazoo's get_async / get_children_async per node (older servers).
ACLs are always read with pipelined get_acls_async: multiRead does not accept getACL.

A batch is retried as a whole (with kazoo's KazooRetry, which waits for the reconnect) when
the connection drops, so a node is neither duplicated nor dropped; a node deleted during the
walk (NoNode) is reported as None.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from kazoo.client import KazooClient
from kazoo.exceptions import (
    EXCEPTIONS,
    NoNodeError,
    OperationTimeoutError,
    UnimplementedError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import ZnodeStat
from kazoo.retry import KazooRetry
from kazoo.security import ACL

from executor.zk.aclreader import RawAclReader
from executor.zk.multiread import (
    GET_CHILDREN,
    GET_DATA,
    DataResult,
    ErrorResult,
    multi_read_async,
)

ReadMode = Literal["auto", "multiread", "pipelined"]
NO_NODE = NoNodeError.code


@dataclass(slots=True)
class ZNode:
    """One node as read: data (None = null), Stat, ACL and sorted child names."""

    path: str
    data: bytes | None
    stat: ZnodeStat
    acl: list[ACL]
    children: list[str] = field(default_factory=list)


def child_path(parent: str, name: str) -> str:
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


def _raise_for(code: int) -> None:
    raise EXCEPTIONS[code]()


@dataclass
class ReaderSettings:
    """Tuning: nodes per multiRead are derived from `batch_bytes` and the mean node size seen."""

    batch_bytes: int = 512 * 1024
    max_batch_nodes: int = 2000
    in_flight: int = 8
    pipelined_window: int = 32
    timeout: float = 30.0
    retry_deadline: float = 120.0


class NodeReader:
    """Reads batches of znodes through one kazoo session."""

    def __init__(
        self,
        client: KazooClient,
        mode: ReadMode,
        settings: ReaderSettings,
        acl_reader: RawAclReader | None = None,
    ):
        self.client = client
        self.settings = settings
        self.acl_reader = acl_reader
        self.mode: ReadMode = self._detect(mode)
        self._mean_node_bytes = 256.0
        self._retry = KazooRetry(
            max_tries=-1, delay=0.1, max_delay=2.0, deadline=settings.retry_deadline
        )

    # ---- strategy selection -------------------------------------------------------------
    def _detect(self, mode: ReadMode) -> ReadMode:
        if mode != "auto":
            return mode
        try:
            multi_read_async(self.client, [(GET_DATA, "/")]).get(timeout=self.settings.timeout)
        except UnimplementedError:
            return "pipelined"
        return "multiread"

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

    # ---- one batch ------------------------------------------------------------------------
    def submit(self, paths: list[str]) -> _Batch:
        """Start reading `paths`; the returned batch's `result()` waits for it."""
        return _Batch(self, paths)

    def read(self, paths: list[str]) -> list[ZNode | None]:
        """Read `paths` now (one batch)."""
        return self.submit(paths).result()

    def read_data(self, paths: list[str]) -> list[DataResult | None]:
        """Data and Stat only (no ACL, no children) of `paths`; None for a missing node."""
        results = self._retry(lambda: self._finish_data(self._start_data(paths)))
        out: list[DataResult | None] = []
        for result in results:
            if isinstance(result, ErrorResult):
                if result.code != NO_NODE:
                    _raise_for(result.code)
                out.append(None)
            else:
                out.append(result)
        return out

    def stream(self, paths: list[str]) -> PathStream:
        """An ordered, pipelined reader of `paths` (nothing is sent until it is iterated
        or `prefetch` is called)."""
        return PathStream(self, paths)

    # ---- the two strategies (each returns data results, then children) ------------------
    def _start_data(self, paths: list[str]) -> list:
        if self.mode == "multiread":
            return [multi_read_async(self.client, [(GET_DATA, p) for p in paths])]
        return [self.client.get_async(p) for p in paths]

    def _finish_data(self, started: list) -> list[DataResult | ErrorResult]:
        if self.mode == "multiread":
            return self._wait(started[0])
        out: list[DataResult | ErrorResult] = []
        for async_result in started:
            try:
                data, stat = self._wait(async_result)
                out.append(DataResult(data, stat))
            except NoNodeError:
                out.append(ErrorResult(NO_NODE))
        return out

    def _read_children(self, paths: list[str]) -> list[list[str] | ErrorResult]:
        if not paths:
            return []
        if self.mode == "multiread":
            return self._wait(multi_read_async(self.client, [(GET_CHILDREN, p) for p in paths]))
        started = [self.client.get_children_async(p) for p in paths]
        out: list[list[str] | ErrorResult] = []
        for async_result in started:
            try:
                out.append(self._wait(async_result))
            except NoNodeError:
                out.append(ErrorResult(NO_NODE))
        return out

    def _wait(self, async_result):
        try:
            return async_result.get(timeout=self.settings.timeout)
        except KazooTimeoutError as exc:
            raise OperationTimeoutError(f"no answer within {self.settings.timeout} s") from exc


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
            size = self.reader.batch_size()
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
    """Requests of one batch in flight: getData (+ ACLs) now, getChildren on `result()`."""

    def __init__(self, reader: NodeReader, paths: list[str]):
        self.reader = reader
        self.paths = paths
        self._start()

    def _start(self) -> None:
        reader = self.reader
        if reader.acl_reader is None:
            self._acls = [reader.client.get_acls_async(p) for p in self.paths]
        else:
            self._acl_ticket = reader.acl_reader.submit(self.paths)
        self._data = reader._start_data(self.paths)

    def result(self) -> list[ZNode | None]:
        reader = self.reader
        try:
            nodes = self._collect()
        except reader._retry.retry_exceptions:
            # connection lost mid-batch: read the whole batch again once the client reconnects
            nodes = reader._retry(self._reread)
        reader._learn(nodes)
        return nodes

    def _reread(self) -> list[ZNode | None]:
        self._start()
        return self._collect()

    def _acl_list(self) -> list[list[ACL] | None]:
        reader = self.reader
        if reader.acl_reader is not None:
            return reader.acl_reader.collect(self._acl_ticket)
        out: list[list[ACL] | None] = []
        for acl_async in self._acls:
            try:
                acls, _stat = reader._wait(acl_async)
                out.append(acls)
            except NoNodeError:
                out.append(None)
        return out

    def _collect(self) -> list[ZNode | None]:
        reader = self.reader
        acls = self._acl_list()
        data_results = reader._finish_data(self._data)
        parents = [
            path
            for path, result in zip(self.paths, data_results, strict=True)
            if isinstance(result, DataResult) and result.stat.numChildren > 0
        ]
        children_of = dict(zip(parents, reader._read_children(parents), strict=True))
        nodes: list[ZNode | None] = []
        for path, result, acl in zip(self.paths, data_results, acls, strict=True):
            if isinstance(result, ErrorResult):
                if result.code != NO_NODE:
                    _raise_for(result.code)
                nodes.append(None)
                continue
            if acl is None:  # deleted between getData and getACL
                nodes.append(None)
                continue
            children = children_of.get(path, [])
            if isinstance(children, ErrorResult):
                if children.code != NO_NODE:
                    _raise_for(children.code)
                children = []
            nodes.append(ZNode(path, result.data, result.stat, acl, sorted(children)))
        return nodes
