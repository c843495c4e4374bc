"""Shell completion scripts and `--help` of kubectl-zkstash and executor."""

from __future__ import annotations

import subprocess

import pytest

from tests.plugin.conftest import run_command

PLUGIN_COMMANDS = ("trigger", "pause", "resume", "snapshots", "download", "describe", "completion")


@pytest.mark.parametrize("program", ["kubectl-zkstash", "executor"])
def test_bash_completion_is_valid_bash_and_names_the_subcommands(program: str, tmp_path) -> None:
    done = run_command(program, "completion", "bash", cwd=tmp_path)

    assert done.code == 0, done.stderr
    checked = subprocess.run(["bash", "-n"], input=done.stdout, text=True, capture_output=True)
    assert checked.returncode == 0, checked.stderr
    expected = PLUGIN_COMMANDS if program == "kubectl-zkstash" else ("backup", "restore", "verify")
    assert all(command in done.stdout for command in expected)


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_completion_name_the_plugin_commands(shell: str, tmp_path) -> None:
    done = run_command("kubectl-zkstash", "completion", shell, cwd=tmp_path)

    assert done.code == 0, done.stderr
    assert all(command in done.stdout for command in PLUGIN_COMMANDS)


def test_an_unknown_shell_is_a_usage_error(tmp_path) -> None:
    done = run_command("kubectl-zkstash", "completion", "powershell", cwd=tmp_path)

    assert done.code == 2
    assert "invalid choice: 'powershell'" in done.stderr


@pytest.mark.parametrize("command", PLUGIN_COMMANDS)
def test_every_plugin_command_has_help_with_examples(command: str, tmp_path) -> None:
    done = run_command("kubectl-zkstash", command, "--help", cwd=tmp_path)

    assert done.code == 0
    assert "examples:" in done.stdout and "kubectl" in done.stdout


def test_plugin_help_answers_access_and_exit_codes(tmp_path) -> None:
    done = run_command("kubectl-zkstash", "--help", cwd=tmp_path)

    assert done.code == 0
    assert "--kubeconfig FILE, else $KUBECONFIG" in done.stdout
    assert "0 success, 1 the operation failed" in done.stdout


def test_executor_help_names_environment_results_and_exit_codes(tmp_path) -> None:
    done = run_command("executor", "--help", cwd=tmp_path)

    assert done.code == 0
    for answer in ("RESTIC_PASSWORD", "ZK_PASSWORD", "--result-file", "exit codes:", "examples:"):
        assert answer in done.stdout


def test_a_cluster_command_without_any_kubeconfig_is_a_usage_error(tmp_path) -> None:
    done = run_command("kubectl-zkstash", "snapshots", cwd=tmp_path)

    assert done.code == 2
    assert "no kubeconfig" in done.stderr
