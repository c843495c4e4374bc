"""Cluster access the way kubectl finds it: `--kubeconfig` (else $KUBECONFIG, else
~/.kube/config, else in-cluster credentials), `--context`, and the context's namespace as the
default for `-n/--namespace`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from plugin.errors import UsageError

DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class Cluster:
    """An API client and the namespace commands use when `-n` is not given."""

    api: client.ApiClient
    namespace: str


def _kubeconfig_file(explicit: str | None) -> str | None:
    """The kubeconfig file kubectl would read (first of a $KUBECONFIG list), or None."""
    if explicit:
        if not Path(explicit).is_file():
            raise UsageError(f"--kubeconfig {explicit}: no such file")
        return explicit
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    candidates = listed or [str(Path.home() / ".kube" / "config")]
    return next((p for p in candidates if Path(p).is_file()), None)


def _context_namespace(kubeconfig: str, context: str | None) -> str:
    contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
    chosen = active
    if context:
        chosen = next((c for c in contexts if c.get("name") == context), None)
        if chosen is None:
            names = ", ".join(sorted(c.get("name", "") for c in contexts)) or "none"
            raise UsageError(f"--context {context}: no such context in {kubeconfig} ({names})")
    return str(((chosen or {}).get("context") or {}).get("namespace") or DEFAULT_NAMESPACE)


def connect(kubeconfig: str | None, context: str | None) -> Cluster:
    """An API client for the chosen kubeconfig/context; UsageError when none can be found."""
    path = _kubeconfig_file(kubeconfig)
    configuration = client.Configuration()
    try:
        if path is not None:
            config.load_kube_config(
                config_file=path, context=context, client_configuration=configuration
            )
            namespace = _context_namespace(path, context)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
            namespace_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
            namespace = (
                namespace_file.read_text().strip()
                if namespace_file.is_file()
                else DEFAULT_NAMESPACE
            )
        else:
            raise UsageError(
                "no kubeconfig: pass --kubeconfig, set KUBECONFIG or create ~/.kube/config"
            )
    except ConfigException as error:
        raise UsageError(f"kubeconfig {path}: {error}") from None
    return Cluster(client.ApiClient(configuration), namespace)
