"""deploy/k8s/ha/: PostgreSQL by CloudNativePG with a synchronous replica and backups, Redis with
Sentinel, and the apps pointed at both."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def app_settings() -> dict[str, str]:
    config = by_kind(documents(K8S / "config.yaml"), "ConfigMap")[0]["data"]
    secret = by_kind(documents(K8S / "secret.example.yaml"), "Secret")[0]["stringData"]
    return {**config, **secret}


def test_postgres_cluster_has_three_instances_a_synchronous_replica_and_backups() -> None:
    docs = documents(K8S / "ha" / "postgres-cluster.yaml")
    [cluster] = by_kind(docs, "Cluster")
    assert cluster["apiVersion"].startswith("postgresql.cnpg.io/")
    spec = cluster["spec"]
    assert spec["instances"] == 3
    assert spec["postgresql"]["synchronous"]["number"] >= 1
    assert spec["postgresql"]["synchronous"]["dataDurability"] == "required"
    store = spec["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://")
    assert "wal" in store
    [scheduled] = by_kind(docs, "ScheduledBackup")
    assert scheduled["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    credentials = {s["metadata"]["name"] for s in by_kind(docs, "Secret")}
    assert store["s3Credentials"]["accessKeyId"]["name"] in credentials
    # The apps use the primary's service, which CloudNativePG names <cluster>-rw.
    assert urlsplit(app_settings()["DATABASE_URL"]).hostname == f"{cluster['metadata']['name']}-rw"


def test_apps_find_redis_through_the_sentinel_service() -> None:
    docs = documents(K8S / "ha" / "redis-sentinel.yaml")
    [statefulset] = by_kind(docs, "StatefulSet")
    assert statefulset["spec"]["replicas"] == 3
    script = by_kind(docs, "ConfigMap")[0]["data"]["start-sentinel.sh"]
    monitor = next(line.split() for line in script.splitlines() if "sentinel monitor" in line)
    master_name, quorum = monitor[2], int(monitor[5])
    assert 1 < quorum <= statefulset["spec"]["replicas"] // 2 + 1  # a majority, and more than one opinion
    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    settings = app_settings()
    for entry in settings["MUSUBI_REDIS_SENTINELS"].split(","):
        host, _, port = entry.partition(":")
        assert host in services
        assert int(port) in {p["port"] for p in services[host]["spec"]["ports"]}
        pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
        assert services[host]["spec"]["selector"].items() <= pod_labels.items()
    assert settings["MUSUBI_REDIS_SENTINEL_MASTER"] == master_name
