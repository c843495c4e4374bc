"""Waiting for a local HTTP server the tests started."""

from __future__ import annotations

import subprocess
import time
import urllib.request


def wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 30.0) -> bytes:
    """Poll ``url`` until it answers 200 and return the body.

    Any socket error (refused, reset, a read timeout while a worker boots on a busy machine) is
    retried until ``timeout``; a process that exits first fails at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return response.read()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")
        time.sleep(0.1)
