"""Kubernetes name rules (DNS-1123) as they apply to our kinds' names and name parts."""

import re

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253

# Kinds whose object name becomes a label value on their offshoots (kubestash.com/invoker-name,
# kubestash.com/repo-name, invoker-name on Job pods): label values hold at most 63 characters.
# RetentionPolicy, Addon, Function and AppBinding names are only referenced, so the general
# object-name rule (DNS-1123 subdomain, 253) applies to them.
LABEL_BOUND_KINDS = frozenset(
    {
        "BackupStorage",
        "Repository",
        "Snapshot",
        "BackupConfiguration",
        "BackupSession",
        "RestoreSession",
        "BackupBlueprint",
    }
)


def label_name_problem(name: str) -> str | None:
    """Why ``name`` is not a DNS-1123 label (≤ 63 lowercase alphanumerics or '-'), or None."""
    if len(name) > LABEL_MAX:
        return f'"{name}" is longer than {LABEL_MAX} characters'
    if not DNS1123_LABEL.fullmatch(name):
        return (
            f'"{name}" is not a valid name: use lowercase letters, digits and "-",'
            " starting and ending with a letter or digit"
        )
    return None


def object_name_problem(name: str, kind: str) -> str | None:
    """Why ``name`` is not a valid metadata.name for ``kind``, or None."""
    limit = LABEL_MAX if kind in LABEL_BOUND_KINDS else SUBDOMAIN_MAX
    if len(name) > limit:
        why = " (it is used as a label value)" if limit == LABEL_MAX else ""
        return f'"{name}" is longer than {limit} characters{why}'
    if not DNS1123_SUBDOMAIN.fullmatch(name):
        return (
            f'"{name}" is not a valid name: use lowercase letters, digits, "-" and ".",'
            " starting and ending with a letter or digit"
        )
    return None
