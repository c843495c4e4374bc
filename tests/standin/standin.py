"""The whole stand-in cluster: store, API endpoint, Job/CronJob runners and the Metacontroller loop.

Everything runs step-wise in the caller's thread (`step`, `run_until`), so tests are
deterministic; only the executor processes, the hooks server and the one API endpoint run apart.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from schemas.loader import load_documents
from tests.standin.apiserver import ApiServer
from tests.standin.clock import Clock
from tests.standin.jobs import JOB_BACKOFF_BASE_SECONDS, CronJobRunner, JobRunner
from tests.standin.metacontroller import Metacontroller, load_controllers
from tests.standin.store import AlreadyExists, Store

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not hold in time; the message says what was awaited and what was seen."""


def manifest_documents(directory: Path) -> list[dict[str, Any]]:
    """Every object in the YAML files of a manifests folder (kustomization files excluded)."""
    documents: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents += [d for d in load_documents(path) if isinstance(d, dict)]
    return documents


class Standin:
    """A local Kubernetes + Metacontroller driven by the project's own manifests."""

    def __init__(
        self,
        hooks_base_url: str,
        workdir: Path,
        manifests: Path | None = REPO_ROOT / "manifests",
        job_backoff_seconds: float = JOB_BACKOFF_BASE_SECONDS,
    ) -> None:
        self.clock = Clock()
        self.store = Store(self.clock)
        self.api = ApiServer(self.store).start()
        base_env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "ZKSTASH_API_SERVER": self.api.url,
        }
        self.jobs = JobRunner(self.store, self.clock, workdir, base_env, job_backoff_seconds)
        self.cronjobs = CronJobRunner(self.store, self.clock)
        self.metacontroller = Metacontroller(self.store, self.clock, hooks_base_url)
        if manifests is not None:
            self.install(manifests)

    def install(self, manifests: Path) -> None:
        """What `kubectl apply -k manifests/` brings: CRDs, the addon catalog, the controllers."""
        for sub in ("crds", "addon"):
            if (manifests / sub).is_dir():
                for doc in manifest_documents(manifests / sub):
                    self._create_or_keep(doc)
        if (manifests / "metacontroller").is_dir():
            documents = manifest_documents(manifests / "metacontroller")
            for doc in documents:
                self._create_or_keep(doc)
            load_controllers(self.metacontroller, documents)

    def _create_or_keep(self, doc: dict[str, Any]) -> None:
        with contextlib.suppress(AlreadyExists):
            self.store.create(doc)

    # ----- running --------------------------------------------------------------------------

    def step(self) -> int:
        """One round of every controller; returns how much happened."""
        return self.jobs.poll() + self.cronjobs.poll() + self.metacontroller.process_due()

    def busy(self) -> bool:
        """Whether something is running or due now."""
        due = self.metacontroller.next_due()
        return self.jobs.active() > 0 or (due is not None and due <= self.clock.now())

    def run_until(
        self, condition: Callable[[], T], timeout: float, describe: Callable[[], str] | str = ""
    ) -> T:
        """Step until `condition()` is truthy and return it; WaitTimeout after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                what = describe() if callable(describe) else describe
                recent = "\n  ".join(self.metacontroller.sync_errors[-5:]) or "none"
                raise WaitTimeout(
                    f"timed out after {timeout}s: {what}\nrecent sync errors:\n  {recent}"
                )
            if not self.step():
                time.sleep(0.02)

    def settle(self, timeout: float = 60.0) -> None:
        """Step until nothing is running and nothing is due."""

        def quiet() -> bool:
            return self.step() == 0 and not self.busy()

        self.run_until(quiet, timeout, "the stand-in to settle")

    def advance(self, seconds: float) -> None:
        """Move the clock forward (schedules, resyncs and backoffs fire) and run one step."""
        self.clock.advance(seconds)
        self.step()

    def fire_cronjob(self, namespace: str, name: str) -> dict[str, Any]:
        """Run a CronJob now, like `kubectl create job --from=cronjob/<name>`."""
        return self.cronjobs.fire(namespace, name)

    def close(self) -> None:
        """Stop every process and the API endpoint."""
        self.jobs.stop_all()
        self.api.stop()
