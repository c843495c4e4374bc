"""Pre-order tree walk with bounded memory.

The walk keeps a stack of per-parent child readers: when a node is emitted, its sorted child
names become a new `PathStream` pushed on the stack; when that stream ends the
walk resumes with the parent's next sibling. Output is therefore globally sorted by
`stream.path_key` (a parent directly before its subtree, siblings by name) while memory holds
only, per level of the current path, one parent's child names plus the batches in flight.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from executor.zk.paths import PathFilter, join
from executor.zk.reader import NodeReader, PathStream, ZNode

LOOKAHEAD = 8  # siblings whose children are requested before the walk reaches them
_END = object()


def _child_stream(reader: NodeReader, node: ZNode, path_filter: PathFilter) -> PathStream | None:
    paths = [
        path
        for path in (join(node.path, name) for name in node.children)
        if not path_filter.excluded(path) and path_filter.selected(path)
    ]
    return reader.stream(paths) if paths else None


def walk(reader: NodeReader, root: str, path_filter: PathFilter) -> Iterator[ZNode]:
    """Yield every node under `root` (inclusive) that the filter keeps, in pre-order.

    Excluded nodes are neither yielded nor descended into; nodes deleted during the walk are
    absent. Ephemeral filtering is the caller's business (it sees each node's Stat).

    When the walk descends into a node, it also starts reading the children of up to
    LOOKAHEAD following siblings that are already read, so several small sibling directories
    are in flight at once; memory stays bounded (one first batch per started sibling).
    """
    stack: list[PathStream] = [reader.stream([root])]
    started: dict[str, PathStream] = {}
    while stack:
        level = stack[-1]
        node = next(level, _END)
        if node is _END:
            stack.pop()
            continue
        if node is None:  # deleted while the walk ran
            continue
        yield node
        children = started.pop(node.path, None) or _child_stream(reader, node, path_filter)
        if children is None:
            continue
        stack.append(children)
        for sibling in islice(level.ready, LOOKAHEAD):
            if sibling is not None and sibling.children and sibling.path not in started:
                early = _child_stream(reader, sibling, path_filter)
                if early is not None:
                    early.prefetch(1)
                    started[sibling.path] = early
