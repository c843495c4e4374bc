"""Static facts about the container images: their Dockerfiles parsed, and their package locks.

The images cannot be built here (no container engine), so the tests read the Dockerfiles with
the `dockerfile` package, which wraps BuildKit's own parser, rather than guessing at the syntax.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import dockerfile
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
IMAGES = ("hooks", "executor")


@dataclass(frozen=True)
class Stage:
    """One build stage: its base image reference and its instructions."""

    base: str
    name: str | None
    commands: tuple[dockerfile.Command, ...]

    def of(self, instruction: str) -> list[dockerfile.Command]:
        """The stage's instructions of one kind (``"COPY"``, ``"RUN"``, …), in order."""
        return [c for c in self.commands if c.cmd == instruction.upper()]


def dockerfile_path(image: str) -> Path:
    """Where an image's Dockerfile lives."""
    return REPO / "images" / image / "Dockerfile"


def lock_path(image: str) -> Path:
    """Where an image's locked package list lives."""
    return REPO / "images" / image / "requirements.lock"


def _substitute(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), text)


def stages(image: str) -> list[Stage]:
    """The Dockerfile's stages, with global ARG defaults substituted into each FROM."""
    commands = dockerfile.parse_file(str(dockerfile_path(image)))
    global_args: dict[str, str] = {}
    result: list[Stage] = []
    current: list[dockerfile.Command] = []
    header: tuple[str, str | None] | None = None
    for command in commands:
        if command.cmd == "FROM":
            if header is not None:
                result.append(Stage(header[0], header[1], tuple(current)))
            value = command.value
            name = value[2] if len(value) == 3 and value[1].upper() == "AS" else None
            header, current = (_substitute(value[0], global_args), name), []
        elif header is None and command.cmd == "ARG":
            key, _, default = command.value[0].partition("=")
            global_args[key] = default
        else:
            current.append(command)
    assert header is not None, f"{dockerfile_path(image)} has no FROM"
    result.append(Stage(header[0], header[1], tuple(current)))
    return result


def final_stage(image: str) -> Stage:
    """The stage that becomes the image."""
    return stages(image)[-1]


def requirement_pins(path: Path) -> dict[str, str]:
    """``{canonical name: version}`` of every ``name==version`` line, following ``-r`` includes."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r"):
            pins.update(requirement_pins(path.parent / line[2:].strip()))
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{path}: {raw!r}"
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins
