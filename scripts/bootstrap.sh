#!/usr/bin/env bash
# Installs what zkstash's demo and tests need on a Debian machine, idempotently:
# system packages (ZooKeeper, restic, Java, rclone) via apt, then a Python venv with the pinned
# requirements. Safe to run again; each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

need_apt=()
[ -f /usr/share/java/zookeeper.jar ] || need_apt+=(zookeeper)
command -v restic >/dev/null 2>&1 || need_apt+=(restic)
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
# promtool (checks and unit-tests the PrometheusRule alerts) ships in Debian's prometheus package.
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v rclone >/dev/null 2>&1 || need_apt+=(rclone)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)  # bench/bench_hooks.py load generator
if [ ${#need_apt[@]} -gt 0 ]; then
  say "installing system packages: ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: need root to apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
else
  say "system packages present (zookeeper, restic, java, rclone)"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating virtualenv .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements*.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing Python packages into .venv (pinned in requirements*.txt)"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" >"$stamp"
else
  say "Python packages up to date"
fi
