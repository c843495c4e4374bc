"""Path helpers: joining, re-rooting, and include/exclude glob filters.

Globs are absolute ZooKeeper paths matched component by component with fnmatch rules (`*`, `?`,
`[...]` stay inside one component). A glob selects the matching nodes and their whole subtrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

SYSTEM_ROOT = "/zookeeper"


def components(path: str) -> tuple[str, ...]:
    return () if path == "/" else tuple(path[1:].split("/"))


def join(parent: str, name: str) -> str:
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


def reroot(path: str, old_root: str, new_root: str) -> str:
    """Move `path` (under `old_root`) to the same place under `new_root`."""
    rest = path if old_root == "/" else path[len(old_root) :]
    if new_root == "/":
        return rest or "/"
    return new_root + rest if rest != "/" else new_root


def validate_path(path: str, what: str) -> str:
    """Return `path` if it is an absolute ZooKeeper path, else raise ValueError naming `what`."""
    if not path.startswith("/") or (path != "/" and path.endswith("/")) or "//" in path:
        raise ValueError(f"{what} {path!r} is not an absolute ZooKeeper path")
    return path


def _glob_matches(glob: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """The glob matches `parts` itself or one of its ancestors."""
    if len(parts) < len(glob):
        return False
    return all(fnmatchcase(p, g) for p, g in zip(parts, glob, strict=False))


def _may_contain(glob: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """`parts` is a proper ancestor of some path the glob can match."""
    if len(parts) >= len(glob):
        return False
    return all(fnmatchcase(p, g) for p, g in zip(parts, glob, strict=False))


@dataclass(frozen=True)
class PathFilter:
    """Decides for each path: keep it, and descend into it?"""

    include: tuple[tuple[str, ...], ...] = ()
    exclude: tuple[tuple[str, ...], ...] = ()
    include_system: bool = False

    @classmethod
    def build(cls, include: list[str], exclude: list[str], include_system: bool) -> PathFilter:
        for glob in [*include, *exclude]:
            validate_path(glob, "glob")
        return cls(
            tuple(components(g) for g in include),
            tuple(components(g) for g in exclude),
            include_system,
        )

    def excluded(self, path: str) -> bool:
        """Skip this node and its subtree."""
        parts = components(path)
        if not self.include_system and parts[:1] == ("zookeeper",):
            return True
        return any(_glob_matches(g, parts) for g in self.exclude)

    def selected(self, path: str) -> bool:
        """Write this node (it is included, or an ancestor that includes need as a parent)."""
        if not self.include:
            return True
        parts = components(path)
        return any(_glob_matches(g, parts) or _may_contain(g, parts) for g in self.include)
