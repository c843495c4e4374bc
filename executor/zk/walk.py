"""Pre-order tree walk with bounded memory.

The walk keeps a stack of per-parent child readers: when a node is emitted, its sorted child
names become a new `NodeReader.read_many` stream pushed on the stack; when that stream ends the
walk resumes with the parent's next sibling. Output is therefore globally sorted by
`stream.path_key` (a parent directly before its subtree, siblings by name) while memory holds
only, per level of the current path, one parent's child names plus the batches in flight.
"""

from __future__ import annotations

from collections.abc import Iterator

from executor.zk.paths import PathFilter, join
from executor.zk.reader import NodeReader, ZNode


def walk(reader: NodeReader, root: str, path_filter: PathFilter) -> Iterator[ZNode]:
    """Yield every node under `root` (inclusive) that the filter keeps, in pre-order.

    Excluded nodes are neither yielded nor descended into; nodes deleted during the walk are
    absent. Ephemeral filtering is the caller's business (it sees each node's Stat).
    """
    stack: list[Iterator[ZNode | None]] = [reader.read_many([root])]
    while stack:
        node = next(stack[-1], _END)
        if node is _END:
            stack.pop()
            continue
        if node is None:
            continue
        yield node
        names = [
            path
            for path in (join(node.path, name) for name in node.children)
            if not path_filter.excluded(path) and path_filter.selected(path)
        ]
        if names:
            stack.append(reader.read_many(names))


_END = object()
