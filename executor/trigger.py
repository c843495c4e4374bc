"""`executor trigger`: create one BackupSession, as KubeStash's trigger CronJob does.

This is the executor's only Kubernetes API call, a single POST, so it uses the standard library
(urllib + ssl) rather than the kubernetes client package, which would add dozens of megabytes
and a dependency tree to the executor image for one request.

Address and credentials are the in-cluster ones (KUBERNETES_SERVICE_HOST/PORT, the service
account's token and CA). ZKSTASH_API_SERVER overrides the address (plain http is allowed then:
the local stand-in serves the API over plain http).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import urllib.error

API_GROUP = "core.kubestash.com"
API_VERSION = "v1alpha1"
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
NAME_MAX = 63
LABEL_NAME_MAX = 63
LABEL_PREFIX_MAX = 253

# Kubernetes' label syntax (apimachinery validation.IsQualifiedName / IsValidLabelValue),
# written out because the executor image carries no Kubernetes client library for two regexes.
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class TriggerError(Exception):
    """The BackupSession could not be created; str() is one sentence."""


@dataclass(frozen=True)
class ApiEndpoint:
    """Where the API server is and how to authenticate to it."""

    base_url: str
    token: str | None
    ca_file: str | None


class LabelError(ValueError):
    """A `--label KEY=VALUE` that is not valid Kubernetes label syntax; str() says why."""


def label_key_problem(key: str) -> str | None:
    """Why `key` is not a valid label key (`[prefix/]name`), or None when it is."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return "the prefix before '/' must not be empty"
    if prefix and (len(prefix) > LABEL_PREFIX_MAX or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return (
            f"the prefix {prefix!r} must be a DNS subdomain (lower-case letters, digits, '-' "
            f"and '.', at most {LABEL_PREFIX_MAX} characters)"
        )
    if not name:
        return "the name must not be empty"
    return _label_name_problem(name, "the name")


def label_value_problem(value: str) -> str | None:
    """Why `value` is not a valid label value, or None when it is (empty is valid)."""
    return _label_name_problem(value, "the value") if value else None


def _label_name_problem(text: str, what: str) -> str | None:
    if len(text) > LABEL_NAME_MAX:
        return f"{what} is {len(text)} characters, at most {LABEL_NAME_MAX} are allowed"
    if not _LABEL_NAME.fullmatch(text):
        return (
            f"{what} {text!r} may hold only letters, digits, '-', '_' and '.', and must start "
            "and end with a letter or digit"
        )
    return None


def parse_label(pair: str) -> tuple[str, str]:
    """`KEY=VALUE` → (key, value); raises LabelError naming the label and the problem."""
    key, equals, value = pair.partition("=")
    if not equals:
        raise LabelError(f"--label {pair!r} must be KEY=VALUE")
    problem = label_key_problem(key) or label_value_problem(value)
    if problem:
        raise LabelError(f"--label {pair!r}: {problem}")
    return key, value


def parse_labels(pairs: Sequence[str]) -> dict[str, str]:
    """Every `--label`; raises LabelError on bad syntax or one key given two values."""
    labels: dict[str, str] = {}
    for pair in pairs:
        key, value = parse_label(pair)
        if labels.get(key, value) != value:
            raise LabelError(f"--label {key} is given twice: {labels[key]!r} and {value!r}")
        labels[key] = value
    return labels


def backup_session_name(backup_configuration: str, session: str, unix_seconds: int) -> str:
    """KubeStash's `ValidNameWithPrefixNSuffix(bc, session, unix)`: first 32 + last 31 if long."""
    joined = f"{backup_configuration}-{session}-{unix_seconds}"
    if len(joined) > NAME_MAX:
        tail = NAME_MAX // 2
        joined = joined[: NAME_MAX - tail] + joined[len(joined) - tail :]
    return joined.strip("-")


def backup_session(
    namespace: str,
    backup_configuration: str,
    session: str,
    unix_seconds: int,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The BackupSession object the trigger creates; `labels` add to (or override) the defaults.

    The trigger CronJob passes `controller-uid=<BackupConfiguration uid>` among them, which is
    what lets the BackupConfiguration's CompositeController (generateSelector) adopt the session.
    """
    default_labels = {
        "app.kubernetes.io/managed-by": "kubestash.com",
        "kubestash.com/invoker-kind": "BackupConfiguration",
        "kubestash.com/invoker-name": backup_configuration,
        "kubestash.com/invoker-namespace": namespace,
        "kubestash.com/session-name": session,
    }
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "BackupSession",
        "metadata": {
            "name": backup_session_name(backup_configuration, session, unix_seconds),
            "namespace": namespace,
            "labels": {**default_labels, **(labels or {})},
        },
        "spec": {
            "invoker": {
                "apiGroup": API_GROUP,
                "kind": "BackupConfiguration",
                "name": backup_configuration,
            },
            "session": session,
        },
    }


def endpoint_from_environment(
    environ: Mapping[str, str], account_dir: Path = SERVICE_ACCOUNT_DIR
) -> ApiEndpoint:
    """The API server from ZKSTASH_API_SERVER, else the in-cluster service variables."""
    token_file = account_dir / "token"
    ca_file = account_dir / "ca.crt"
    token = token_file.read_text().strip() if token_file.is_file() else None
    ca = str(ca_file) if ca_file.is_file() else None
    override = environ.get("ZKSTASH_API_SERVER", "").strip()
    if override:
        return ApiEndpoint(base_url=override.rstrip("/"), token=token, ca_file=ca)
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    port = environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise TriggerError(
            "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is unset) "
            "and ZKSTASH_API_SERVER is not set"
        )
    if token is None:
        raise TriggerError(f"no service account token at {token_file}")
    host = f"[{host}]" if ":" in host else host  # IPv6 service address
    return ApiEndpoint(base_url=f"https://{host}:{port}", token=token, ca_file=ca)


def create_backup_session(endpoint: ApiEndpoint, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST the BackupSession; returns the created object as the server answered it."""
    # imported here: only `trigger` talks HTTP, and the other commands start faster
    import ssl
    import urllib.error
    import urllib.request

    namespace = body["metadata"]["namespace"]
    url = (
        f"{endpoint.base_url}/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/backupsessions"
    )
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if endpoint.token:
        headers["Authorization"] = f"Bearer {endpoint.token}"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    context = ssl.create_default_context(cafile=endpoint.ca_file) if endpoint.ca_file else None
    name = body["metadata"]["name"]
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise TriggerError(
            f"the API server refused BackupSession {namespace}/{name}: "
            f"HTTP {exc.code} {_status_message(exc)}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TriggerError(f"cannot reach the API server at {endpoint.base_url}: {reason}") from exc


def _status_message(error: urllib.error.HTTPError) -> str:
    """The `message` of a Kubernetes Status body, else the HTTP reason."""
    try:
        status = json.loads(error.read() or b"{}")
        return str(status.get("message") or error.reason)
    except (ValueError, OSError):
        return str(error.reason)
