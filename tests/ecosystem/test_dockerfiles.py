"""The two images' Dockerfiles, checked statically (no container engine runs here).

Each test names one property a reviewer would look for: pinned bases, a non-root numeric user,
no secrets, copy sources that exist, exactly the locked Python packages, and the same command the
Jobs and the tests run.
"""

import importlib.metadata
import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.ecosystem.images import (
    IMAGES,
    REPO,
    final_stage,
    lock_path,
    requirement_pins,
    stages,
)
from tests.infra.http import wait_until_serving

DIGEST = re.compile(r"^[\w.\-/:]+:[\w.\-]+@sha256:[0-9a-f]{64}$")
SECRET_WORDS = re.compile(r"(?i)password|passwd|secret|token|access_key|private_key|api_key")
OCI_LABELS = ("title", "description", "source", "licenses", "version", "revision")
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "python3-dev", "git")


@pytest.mark.parametrize("image", IMAGES)
def test_every_base_image_is_pinned_by_tag_and_digest(image: str) -> None:
    stage_names = {s.name for s in stages(image) if s.name}
    for stage in stages(image):
        assert stage.base in stage_names or DIGEST.match(stage.base), stage.base


@pytest.mark.parametrize("image", IMAGES)
def test_build_is_multi_stage_and_the_image_copies_only_the_virtualenv(image: str) -> None:
    final = final_stage(image)
    copies_from_build = [
        c for c in final.of("COPY") if any(f.startswith("--from=") for f in c.flags)
    ]
    assert len(stages(image)) >= 2
    assert [c.value for c in copies_from_build] == [("/opt/zkstash", "/opt/zkstash")]


@pytest.mark.parametrize("image", IMAGES)
def test_image_runs_as_a_numeric_non_root_user(image: str) -> None:
    users = final_stage(image).of("USER")
    assert users, f"{image}: the final stage sets no USER"
    user, _, group = users[-1].value[0].partition(":")
    assert user.isdigit() and int(user) != 0
    assert group.isdigit() and int(group) != 0


@pytest.mark.parametrize("image", IMAGES)
def test_no_env_arg_or_label_carries_a_secret(image: str) -> None:
    for stage in stages(image):
        for command in stage.of("ENV") + stage.of("ARG") + stage.of("LABEL"):
            assert not SECRET_WORDS.search(command.original), command.original


@pytest.mark.parametrize("image", IMAGES)
def test_every_copy_source_exists_and_is_in_the_build_context(image: str) -> None:
    allowed = {
        line[1:].strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for stage in stages(image):
        for command in stage.of("COPY"):
            if any(f.startswith("--from=") for f in command.flags):
                continue
            for source in command.value[:-1]:
                assert (REPO / source).exists(), f"{image}: COPY {source}: no such path"
                assert Path(source).parts[0] in allowed, f"{source} is excluded by .dockerignore"


@pytest.mark.parametrize("image", IMAGES)
def test_image_has_all_oci_labels(image: str) -> None:
    labels = " ".join(c.original for c in final_stage(image).of("LABEL"))
    for key in OCI_LABELS:
        assert f"org.opencontainers.image.{key}=" in labels, key


@pytest.mark.parametrize("image", IMAGES)
def test_final_image_installs_no_build_tools_and_drops_pip(image: str) -> None:
    runs = " ".join(c.original for c in final_stage(image).of("RUN"))
    installed = re.findall(r"apt-get install ([^&]*)", runs)
    for packages in installed:
        for tool in BUILD_TOOLS:
            assert tool not in packages.split(), tool
    assert "pip uninstall -y pip" in runs
    build_runs = " ".join(c.original for s in stages(image)[:-1] for c in s.of("RUN"))
    assert "pip uninstall -y setuptools pip" in build_runs


@pytest.mark.parametrize("image", IMAGES)
def test_python_packages_installed_are_exactly_the_lock(image: str) -> None:
    build_runs = [c.original for s in stages(image)[:-1] for c in s.of("RUN")]
    pip_installs = [r for r in build_runs if "pip install" in r]
    assert any("--no-deps -r /tmp/requirements.lock" in r for r in pip_installs)
    copies = [c.value for s in stages(image) for c in s.of("COPY")]
    assert (f"images/{image}/requirements.lock", "/tmp/requirements.lock") in copies
    # Besides the lock, pip installs only setuptools (removed again) and zkstash without deps.
    for run in pip_installs:
        for clause in run.split("&&"):
            if "pip install" in clause and "requirements.lock" not in clause:
                assert "setuptools==" in clause or "--no-deps --no-build-isolation /src" in clause


@pytest.mark.parametrize("image", IMAGES)
def test_lock_holds_the_image_requirements_at_their_pinned_versions(image: str) -> None:
    lock = requirement_pins(lock_path(image))
    wanted = requirement_pins(REPO / f"requirements-{image}.txt")
    assert {name: lock.get(name) for name in wanted} == wanted


@pytest.mark.parametrize("image", IMAGES)
def test_lock_versions_are_the_ones_the_tests_run_with(image: str) -> None:
    lock = requirement_pins(lock_path(image))
    installed = {
        name: importlib.metadata.version(name) for name in lock
    }  # the dev venv: what the test suite exercised
    assert installed == lock


def test_requirements_txt_is_the_union_of_the_two_images() -> None:
    union = requirement_pins(REPO / "requirements-hooks.txt") | requirement_pins(
        REPO / "requirements-executor.txt"
    )
    assert requirement_pins(REPO / "requirements.txt") == union


def test_executor_image_installs_the_restic_version_the_tests_use() -> None:
    runs = " ".join(c.original for c in final_stage("executor").of("RUN"))
    pinned = re.search(r"restic=(\S+)", runs)
    assert pinned, "restic is not pinned"
    local = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "restic"], capture_output=True, text=True, check=True
    ).stdout
    assert pinned[1] == local


def test_executor_entrypoint_is_the_job_command_of_the_contract() -> None:
    entrypoint = final_stage("executor").of("ENTRYPOINT")[-1]
    contracts = (REPO / "docs" / "contracts.md").read_text()
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint.json and entrypoint.value == ("executor",)
    assert '(command `["executor"]`' in contracts
    assert scripts["executor"] == "executor.cli:main"


def test_executor_entrypoint_runs_from_the_installed_package() -> None:
    executor = shutil.which("executor", path=str(Path(sys.executable).parent))
    assert executor, "the console script `executor` is not installed (run scripts/bootstrap.sh)"
    result = subprocess.run([executor, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "backup" in result.stdout and "restore" in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _in_repo(image: str, path_in_image: str) -> str:
    """The repository file a COPY put at PATH_IN_IMAGE (so the command can run from the repo)."""
    for stage in stages(image):
        for command in stage.of("COPY"):
            if command.value[-1] == path_in_image and not command.flags:
                return command.value[0]
    return path_in_image


def test_hooks_image_command_serves_the_hooks_with_their_gunicorn_config() -> None:
    cmd = final_stage("hooks").of("CMD")[-1]
    assert cmd.json and cmd.value[0] == "gunicorn" and cmd.value[-1] == "hooks.app:app"
    config = cmd.value[cmd.value.index("--config") + 1]
    assert _in_repo("hooks", config) == "hooks/gunicorn.conf.py"
    argv = [str(Path(sys.executable).parent / "gunicorn")]
    argv += [_in_repo("hooks", arg) for arg in cmd.value[1:]]
    port = _free_port()
    env = {**os.environ, "ZKSTASH_HOOKS_BIND": f"127.0.0.1:{port}", "ZKSTASH_HOOKS_WORKERS": "1"}
    server = subprocess.Popen(argv, cwd=REPO, env=env, stderr=subprocess.PIPE)
    try:
        body = wait_until_serving(f"http://127.0.0.1:{port}/healthz", server)
        assert body == b"ok\n"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_hooks_deployment_runs_the_image_command() -> None:
    cmd = final_stage("hooks").of("CMD")[-1].value
    manifests = yaml.safe_load_all((REPO / "manifests" / "hooks" / "deployment.yaml").read_text())
    (deployment,) = [d for d in manifests if d and d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert [*container.get("command", []), *container.get("args", [])] in ([], list(cmd))
