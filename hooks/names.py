"""KubeStash naming rules for generated objects, and the labels they carry.

Names follow KubeStash so that runbooks and ``kubectl get`` habits carry over:
``ValidNameWithPrefixNSuffix`` joins ``prefix-name-suffix`` and, past the limit, keeps the
first half (rounded up) and the last half of the characters and trims dashes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hooks.json_values import canonical_json

DNS1123_LABEL_MAX = 63
CRONJOB_NAME_MAX = 52  # CronJob names leave room for the Job's time suffix

PREFIX_TRIGGER = "trigger"
PREFIX_INIT = "init"
PREFIX_CLEANUP = "cleanup"
PREFIX_BACKUP = "backup"
PREFIX_RESTORE = "restore"

MANAGED_BY = "kubestash.com"

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_INVOKER_KIND = "kubestash.com/invoker-kind"
LABEL_INVOKER_NAME = "kubestash.com/invoker-name"
LABEL_INVOKER_NAMESPACE = "kubestash.com/invoker-namespace"
LABEL_SESSION_NAME = "kubestash.com/session-name"
LABEL_REPO_NAME = "kubestash.com/repo-name"
LABEL_APP_REF_KIND = "kubestash.com/app-ref-kind"
LABEL_APP_REF_NAME = "kubestash.com/app-ref-name"
LABEL_APP_REF_NAMESPACE = "kubestash.com/app-ref-namespace"
LABEL_BACKUP_SESSION = "kubestash.com/backup-session"
LABEL_ATTEMPT = "kubestash.com/attempt"

COMPONENT_BACKUP = "kubestash-backup"
COMPONENT_RESTORE = "kubestash-restore"
COMPONENT_INITIALIZER = "kubestash-initializer"
COMPONENT_CLEANER = "kubestash-cleaner"
COMPONENT_TRIGGER = "kubestash-trigger"

_TRAILING_DIGITS = re.compile(r"^(.*)-(\d+)$")


def valid_name_with_prefix_n_suffix(
    prefix: str, name: str, suffix: str, max_length: int = DNS1123_LABEL_MAX
) -> str:
    """KubeStash's ``ValidNameWithPrefixNSuffix``: ``prefix-name-suffix`` cut to ``max_length``."""
    joined = f"{prefix}-{name}-{suffix}"
    if len(joined) > max_length:
        tail = max_length // 2
        joined = joined[: max_length - tail] + joined[len(joined) - tail :]
    return joined.strip("-")


def cronjob_name(prefix: str, name: str, suffix: str) -> str:
    """The CronJob variant of the name rule, capped at 52 characters."""
    return valid_name_with_prefix_n_suffix(prefix, name, suffix, CRONJOB_NAME_MAX)


def trigger_cronjob_name(backup_configuration: str, session: str) -> str:
    """``trigger-<bc>-<session>``: the CronJob that starts a session's BackupSessions."""
    return cronjob_name(PREFIX_TRIGGER, backup_configuration, session)


def unix_seconds(timestamp: str) -> int:
    """Seconds since the epoch of an RFC 3339 timestamp from an observed object."""
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp())


def backup_session_name(backup_configuration: str, session: str, unix: int) -> str:
    """``<bc>-<session>-<unix seconds>``, cut like every KubeStash name."""
    return valid_name_with_prefix_n_suffix(backup_configuration, session, str(unix))


def snapshot_name(repository: str, backup_session: str) -> str:
    """KubeStash's ``GenerateSnapshotName``: ``<repo>-<backup session base>-<unix>``."""
    match = _TRAILING_DIGITS.match(backup_session)
    if match:
        return valid_name_with_prefix_n_suffix(repository, match.group(1), match.group(2))
    return valid_name_with_prefix_n_suffix(repository, backup_session, "")


def auto_backup_configuration_name(target_kind: str, target_name: str) -> str:
    """The BackupConfiguration a blueprint generates: ``appbinding-<db>`` for AppBindings."""
    return f"{target_kind.lower()}-{target_name}"


def stable_hash(inputs: Any, length: int = 8) -> str:
    """A short hash of JSON-able inputs, stable across processes and key orders (and across
    releases: ``canonical_json`` keeps the bytes every existing name was hashed from)."""
    return hashlib.sha256(canonical_json(inputs).encode()).hexdigest()[:length]


def hashed_job_name(prefix: str, name: str, spec_inputs: Any) -> str:
    """``<prefix>-<name>-<hash of the Job's spec inputs>``: a changed spec yields a new Job."""
    return valid_name_with_prefix_n_suffix(prefix, name, stable_hash(spec_inputs))


def invoker_labels(kind: str, name: str, namespace: str) -> dict[str, str]:
    """Labels every object generated for an invoker carries (KubeStash's offshoot labels)."""
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_INVOKER_KIND: kind,
        LABEL_INVOKER_NAME: name,
        LABEL_INVOKER_NAMESPACE: namespace,
    }


def app_ref_labels(app_ref: Mapping[str, Any], default_namespace: str) -> dict[str, str]:
    """``kubestash.com/app-ref-*`` labels for a target reference."""
    return {
        LABEL_APP_REF_KIND: str(app_ref.get("kind") or ""),
        LABEL_APP_REF_NAME: str(app_ref.get("name") or ""),
        LABEL_APP_REF_NAMESPACE: str(app_ref.get("namespace") or default_namespace),
    }
