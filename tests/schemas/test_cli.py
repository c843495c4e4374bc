"""python -m schemas.validate: one line per problem (file: Kind/name: path: message), exit 1."""

import subprocess
import sys
from pathlib import Path

from tests.schemas.objects import REPO

RESTORE = """\
apiVersion: core.kubestash.com/v1alpha1
kind: RestoreSession
metadata: {name: restore, namespace: demo}
spec:
  dataSource: {snapshot: latest, repository: repo}
"""


def run_cli(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schemas.validate", *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_files_exit_zero_and_print_nothing_on_stdout(tmp_path):
    result = run_cli(write(tmp_path, "ok.yaml", RESTORE))
    assert (result.returncode, result.stdout) == (0, "")


def test_wrong_type_is_one_line_naming_file_object_and_field(tmp_path):
    path = write(tmp_path, "restore.yaml", RESTORE + "  restoreTimeout: 5\n")
    result = run_cli(path)
    assert result.returncode == 1
    assert (
        result.stdout
        == f"{path}: RestoreSession/restore: spec.restoreTimeout: expected a string, got 5\n"
    )


def test_missing_required_field_is_reported(tmp_path):
    path = write(
        tmp_path,
        "restore.yaml",
        RESTORE.replace(
            "  dataSource: {snapshot: latest, repository: repo}\n", "  restoreTimeout: 5m\n"
        ),
    )
    result = run_cli(path)
    assert result.returncode == 1
    assert (
        result.stdout
        == f"{path}: RestoreSession/restore: spec.dataSource: required field is missing\n"
    )


def test_unknown_kind_is_reported(tmp_path):
    path = write(tmp_path, "odd.yaml", RESTORE.replace("kind: RestoreSession", "kind: RestoreJob"))
    result = run_cli(path)
    assert result.returncode == 1
    assert result.stdout.startswith(
        f'{path}: RestoreJob/restore: kind: "RestoreJob" is not a kind of'
        " core.kubestash.com/v1alpha1"
    )


def test_malformed_yaml_is_one_line_with_position_and_no_traceback(tmp_path):
    path = write(tmp_path, "broken.yaml", RESTORE + "  addon: [\n")
    result = run_cli(path)
    assert result.returncode == 1
    assert result.stdout.startswith(f"{path}: line ") and "malformed YAML" in result.stdout
    assert "Traceback" not in result.stderr


def test_every_problem_of_every_file_in_a_directory_tree_is_printed(tmp_path):
    write(tmp_path, "a.yaml", RESTORE + "  restoreTimeout: 5\n")
    (tmp_path / "nested").mkdir()
    write(tmp_path / "nested", "b.yaml", RESTORE.replace("snapshot: latest, ", ""))
    write(tmp_path, "c.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n")
    result = run_cli(tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'a.yaml'}: RestoreSession/restore: spec.restoreTimeout:"
        " expected a string, got 5",
        f"{tmp_path / 'nested' / 'b.yaml'}: RestoreSession/restore: spec.dataSource.snapshot:"
        ' required (a Snapshot name or "latest") unless pitr is set',
    ]
    assert "2 problem(s) in 3 file(s)" in result.stderr


def test_objects_of_other_groups_are_checked_only_for_kind_and_name(tmp_path):
    path = write(
        tmp_path,
        "zk.yaml",
        "apiVersion: kubedb.com/v1alpha2\nkind: ZooKeeper\nmetadata: {}\nspec: {anything: 1}\n",
    )
    result = run_cli(path)
    assert (
        result.stdout == f"{path}: ZooKeeper/<no name>: metadata.name: required field is missing\n"
    )
