"""The gate between a dump and `restic backup --stdin`: restic reaches the end of its input
only after the stream's trailer has arrived.

restic 0.14 commits whatever it has read once stdin closes, even a stream cut short. The gate
is restic's parent and the only holder of restic's stdin. It copies its own stdin to restic
and, at the end of its input, closes restic's stdin only if the stream ended with an intact
trailer (`stream.ends_with_trailer`). Otherwise — the executor died, aborted, or a signal came
— it sends restic SIGKILL first, so restic runs none of its own code after its input ends
and writes no snapshot. restic gets PR_SET_PDEATHSIG=SIGKILL: if the gate itself is killed
outright, restic is killed with it (the kernel closes the gate's pipe end just before it
signals restic; a commit takes restic milliseconds of I/O, and SIGKILL stops it at its next
system call).

    python -m executor.stream_gate restic -r REPO backup --stdin …

Exit status: restic's, or REFUSED (with one line on stderr) when the gate stopped restic.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from types import FrameType

from executor.stream import TRAILER_SEARCH, ends_with_trailer

REFUSED = 86
REFUSED_MESSAGE = "zkstash: the stream ended without its trailer; restic was stopped uncommitted"
_CHUNK = 1 << 20
_PR_SET_PDEATHSIG = 1
# Loaded before any fork, so a forked child never has to dlopen; None where there is no glibc
# (children then lack the death signal).
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:
    _LIBC = None


def set_parent_death_signal(signum: int) -> None:
    """Ask the kernel to send `signum` to this process when its parent dies (Linux prctl).

    Used as a `preexec_fn`: it runs in the child between fork and exec, so it only calls
    prctl on the preloaded libc."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signum)


def _kill_restic_on_death() -> None:
    set_parent_death_signal(signal.SIGKILL)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def copy_until_end(source: int, target: int) -> tuple[bytes, int] | None:
    """Copy `source` to `target` until the end of `source`; return the last bytes (enough to
    hold a trailer) and the total size, or None if `target` stopped taking data."""
    tail = bytearray()
    size = 0
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    while True:
        count = os.readv(source, [buffer])
        if count == 0:
            return bytes(tail[-TRAILER_SEARCH:]), size
        size += count
        tail += view[:count]
        if len(tail) > 2 * TRAILER_SEARCH:
            del tail[:-TRAILER_SEARCH]
        try:
            _write_all(target, view[:count])
        except BrokenPipeError:
            return None


def main(argv: list[str] | None = None) -> int:
    """Run the restic command in `argv` behind the gate; returns the exit status."""
    command = sys.argv[1:] if argv is None else argv
    if not command:
        print("usage: python -m executor.stream_gate RESTIC-COMMAND…", file=sys.stderr)
        return 2
    restic = subprocess.Popen(command, stdin=subprocess.PIPE, preexec_fn=_kill_restic_on_death)
    assert restic.stdin is not None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # The signal may arrive while this thread is inside Popen.wait (holding its lock), so
        # restic is reaped with os.waitpid: once it is gone, its repository lock is stale and
        # the executor's `restic unlock` removes it.
        restic.kill()
        with contextlib.suppress(ChildProcessError):  # already reaped by Popen.wait
            os.waitpid(restic.pid, 0)
        os.write(2, REFUSED_MESSAGE.encode() + b"\n")
        os._exit(REFUSED)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    copied = copy_until_end(sys.stdin.fileno(), restic.stdin.fileno())
    if copied is None:  # restic exited early (its stderr says why)
        return restic.wait()
    tail, size = copied
    if not ends_with_trailer(tail, size):
        restic.kill()  # before our end of its stdin closes: restic must not see an end
        restic.wait()
        os.write(2, REFUSED_MESSAGE.encode() + b"\n")
        return REFUSED
    restic.stdin.close()  # a complete stream: restic may commit now
    return restic.wait()


if __name__ == "__main__":
    sys.exit(main())
