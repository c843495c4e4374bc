"""Shared pytest fixtures: real ZooKeeper servers, a real S3 server, restic repositories."""

pytest_plugins = [
    "tests.infra.zookeeper_fixtures",
    "tests.infra.s3_fixtures",
    "tests.infra.reliability_report",
]
