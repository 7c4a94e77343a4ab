"""The deployment files agree with each other and with the code they run."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
IMAGE = "musubi:latest"
COMMANDS = {"serve", "gateway", "relay", "worker", "push-worker", "mail-worker", "migrate"}
PORTS = {"serve": 8000, "gateway": 8001}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def k8s_documents() -> list[dict[str, Any]]:
    return [
        doc for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc
    ]


def test_dockerfile_is_multi_stage_non_root_with_one_entrypoint() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.MULTILINE)) == 2
    assert re.search(r"^USER 10001$", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["musubi"]' in dockerfile


def test_compose_runs_every_role_from_one_image_with_health_and_order() -> None:
    services = compose()["services"]
    musubi = {name: s for name, s in services.items() if s.get("image") == IMAGE}
    commands = {s["command"][0] for s in musubi.values()}
    assert commands == COMMANDS
    assert sum(s["command"] == ["serve"] for s in musubi.values()) == 2
    assert sum(s["command"] == ["gateway"] for s in musubi.values()) == 2
    for name, service in musubi.items():
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        if service["command"][0] in PORTS:
            probe = " ".join(service["healthcheck"]["test"])
            assert f":{PORTS[service['command'][0]]}/ready" in probe, name
        if service["command"] != ["migrate"]:
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert set(services["nginx"]["depends_on"]) == {n for n, s in musubi.items() if s["command"][0] in PORTS}


def test_nginx_routes_to_the_compose_services() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    services = compose()["services"]
    upstream_servers = re.findall(r"server ([\w-]+):(\d+)", conf)
    assert len(upstream_servers) == 4
    for host, port in upstream_servers:
        assert services[host]["command"][0] in PORTS
        assert PORTS[services[host]["command"][0]] == int(port)
    assert "proxy_set_header Upgrade $http_upgrade" in conf


def compose_cli() -> list[str] | None:
    """`docker compose` (v2 plugin) or `docker-compose` (v1), whichever this machine has."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(compose_cli() is None, reason="no docker compose CLI on this machine (structural checks still run)")
def test_docker_compose_config_validates() -> None:
    cli = compose_cli()
    assert cli is not None
    env = {"MUSUBI_SECRET_KEY": "x", "MUSUBI_IDENTITY_KEYS": "k:eA==", "PATH": "/usr/local/bin:/usr/bin:/bin"}
    result = subprocess.run(
        [*cli, "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_kubernetes_manifests_reference_the_image_and_probes_consistently() -> None:
    documents = k8s_documents()
    kinds = {doc["kind"] for doc in documents}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "Secret",
            "Job", "Ingress"} <= kinds  # fmt: skip
    deployments = {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == "Deployment"}
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["image"] == IMAGE, name
            assert container["args"][0] in COMMANDS, name
            sources = {next(iter(source.values()))["name"] for source in container["envFrom"]}
            assert sources == {"musubi-config", "musubi-secrets"}, name
            if container["args"][0] in PORTS:
                ports = {p["name"]: p["containerPort"] for p in container["ports"]}
                assert list(ports.values()) == [PORTS[container["args"][0]]], name
                assert container["readinessProbe"]["httpGet"]["path"] == "/ready", name
                assert container["livenessProbe"]["httpGet"]["path"] == "/health", name
                for probe in ("readinessProbe", "livenessProbe"):
                    assert container[probe]["httpGet"]["port"] in ports, name
    for doc in documents:
        if doc["kind"] in ("HorizontalPodAutoscaler",):
            assert doc["spec"]["scaleTargetRef"]["name"] in deployments
        if doc["kind"] in ("PodDisruptionBudget", "Service"):
            selector = doc["spec"]["selector"].get("matchLabels", doc["spec"]["selector"])
            assert any(
                selector.items() <= d["spec"]["template"]["metadata"]["labels"].items() for d in deployments.values()
            ), doc["metadata"]["name"]
    services = {doc["metadata"]["name"] for doc in documents if doc["kind"] == "Service"}
    ingress = next(doc for doc in documents if doc["kind"] == "Ingress")
    backends = {p["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert backends <= services


def test_every_command_the_deployments_run_exists_in_the_cli() -> None:
    from backend.processes.cli import main

    for command in COMMANDS:
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0
