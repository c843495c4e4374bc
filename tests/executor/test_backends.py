"""--repository SPEC → restic repository string and environment (KubeStash layout)."""

from __future__ import annotations

import json

import pytest

from executor.backends import (
    SpecError,
    base_environment,
    parse_repository,
    parse_storage,
    redact_url,
    secret_values,
)

S3_STORAGE = {
    "provider": "s3",
    "s3": {
        "endpoint": "http://minio.storage:9000/",
        "bucket": "zk-backups/",
        "prefix": "demo",
        "region": "eu-west-1",
        "secretName": "s3-secret",
    },
}


def spec(storage: dict, name: str = "s3-repo", path: str = "/zookeeper", prefix: str = "") -> str:
    return json.dumps({"name": name, "storage": storage, "path": path, "envPrefix": prefix})


def test_plain_string_is_the_repository_itself() -> None:
    repo = parse_repository("/srv/backup", None, {"RESTIC_PASSWORD": "pw"})
    assert repo.url == "/srv/backup"
    assert repo.name == "/srv/backup"
    assert repo.env == {"RESTIC_PASSWORD": "pw"}


def test_s3_spec_follows_kubestash_layout() -> None:
    repo = parse_repository(spec(S3_STORAGE), "frequent-backup", {})
    assert repo.url == (
        "s3:http://minio.storage:9000/zk-backups/demo/zookeeper/repository/v1/frequent-backup/dump"
    )
    assert repo.name == "s3-repo"


def test_s3_region_reaches_restic_as_aws_default_region() -> None:
    repo = parse_repository(spec(S3_STORAGE), "daily", {})
    assert repo.env["AWS_DEFAULT_REGION"] == "eu-west-1"


def test_env_prefix_selects_only_that_repositorys_variables() -> None:
    environ = {
        "REPO0_RESTIC_PASSWORD": "zero",
        "REPO0_AWS_SECRET_ACCESS_KEY": "key-zero",
        "REPO1_RESTIC_PASSWORD": "one",
        "RESTIC_PASSWORD": "plain",
    }
    repo = parse_repository(spec(S3_STORAGE, prefix="REPO0_"), "daily", environ)
    assert repo.env["RESTIC_PASSWORD"] == "zero"
    assert repo.env["AWS_SECRET_ACCESS_KEY"] == "key-zero"
    assert "one" not in repo.env.values() and "plain" not in repo.env.values()


@pytest.mark.parametrize(
    ("storage", "url"),
    [
        (
            {"provider": "local", "local": {"mountPath": "/safe/data", "hostPath": {"path": "/x"}}},
            "/safe/data/zookeeper/repository/v1/daily/dump",
        ),
        (
            {"provider": "gcs", "gcs": {"bucket": "zkb", "prefix": "demo"}},
            "gs:zkb:/demo/zookeeper/repository/v1/daily/dump",
        ),
        (
            {
                "provider": "azure",
                "azure": {"storageAccount": "acct", "container": "c", "prefix": "p"},
            },
            "azure:c:/p/zookeeper/repository/v1/daily/dump",
        ),
        (
            {"provider": "rest", "rest": {"url": "http://127.0.0.1:8000/"}},
            "rest:http://127.0.0.1:8000/zookeeper/repository/v1/daily/dump",
        ),
    ],
)
def test_every_provider_maps_to_its_restic_repository_string(storage: dict, url: str) -> None:
    assert parse_repository(spec(storage), "daily", {}).url == url


def test_azure_account_name_comes_from_the_storage_spec() -> None:
    storage = {"provider": "azure", "azure": {"storageAccount": "acct", "container": "c"}}
    assert parse_repository(spec(storage), "daily", {}).env["AZURE_ACCOUNT_NAME"] == "acct"


def test_insecure_tls_is_carried_to_the_repository() -> None:
    storage = {"provider": "s3", "s3": {**S3_STORAGE["s3"], "insecureTLS": True}}
    assert parse_repository(spec(storage), "daily", {}).insecure_tls is True


def test_json_spec_needs_a_session() -> None:
    with pytest.raises(SpecError, match="--session is required"):
        parse_repository(spec(S3_STORAGE), None, {})


def test_invalid_json_is_a_clear_error() -> None:
    with pytest.raises(SpecError, match=r"--repository is not valid JSON: .* at column"):
        parse_repository('{"name": "x",', "daily", {})


def test_missing_bucket_names_the_field() -> None:
    storage = {"provider": "s3", "s3": {"endpoint": "http://h:9000"}}
    with pytest.raises(SpecError, match=r"--repository s3-repo: storage\.s3\.bucket is required"):
        parse_repository(spec(storage), "daily", {})


def test_unknown_provider_names_the_field() -> None:
    with pytest.raises(SpecError, match=r"storage\.provider must be one of"):
        parse_repository(spec({"provider": "swift", "swift": {}}), "daily", {})


def test_storage_flag_is_validated_like_a_spec() -> None:
    with pytest.raises(SpecError, match=r"--storage\.s3\.endpoint is required"):
        parse_storage(json.dumps({"provider": "s3", "s3": {"bucket": "b"}}))


def test_credentials_in_a_rest_url_are_redacted_from_names() -> None:
    repo = parse_repository("rest:http://user:hunter22@127.0.0.1:8000/zk", None, {})
    assert repo.name == "rest:http://***@127.0.0.1:8000/zk"
    assert redact_url("s3:https://host/bucket") == "s3:https://host/bucket"


def test_secret_values_cover_prefixed_and_zookeeper_secrets() -> None:
    environ = {"REPO3_RESTIC_PASSWORD": "pw-three", "ZK_PASSWORD": "zk-pass", "HOME": "/root"}
    assert set(secret_values(environ)) == {"pw-three", "zk-pass"}


def test_base_environment_drops_every_repository_and_zookeeper_variable() -> None:
    environ = {
        "PATH": "/bin",
        "REPO0_RESTIC_PASSWORD": "a",
        "AWS_SECRET_ACCESS_KEY": "b",
        "ZK_PASSWORD": "c",
        "ZK_TLS_KEY_DATA": "d",
        "RESTIC_CACHE_DIR": "/cache",
    }
    assert base_environment(environ) == {"PATH": "/bin", "RESTIC_CACHE_DIR": "/cache"}
