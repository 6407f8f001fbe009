"""examples/docker-compose.yml: checked for shape, not run (no Docker engine here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_compose_example_wires_replicas_redis_and_locust() -> None:
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((ROOT / "examples" / "docker-compose.yml").read_text())
    services = doc["services"]
    assert {"redis", "users", "backend", "locust-master", "locust-worker"} <= set(services)
    backend = services["backend"]
    assert backend["deploy"]["replicas"] >= 2 and "--workers" in backend["command"]
    env = backend["environment"]
    assert env["GOLDENPATH_REDIS_URL"].startswith("redis://redis:")
    assert env["GOLDENPATH_SECRET_KEY"] and env["GOLDENPATH_ENVIRONMENT"] == "prod"
    assert backend["depends_on"]["users"]["condition"] == "service_completed_successfully"
    master, worker = services["locust-master"], services["locust-worker"]
    assert "--master" in master["command"] and "--worker" in worker["command"]
    assert worker["command"][worker["command"].index("--master-host") + 1] == "locust-master"
    # every Locust process logs in as its own slice of the accounts: processes = workers
    for svc in (master, worker):
        config = json.loads(svc["environment"]["GOLDENPATH_LOAD_CONFIG"])
        assert config["processes"] == worker["deploy"]["replicas"]
    assert master["command"][master["command"].index("--expect-workers") + 1] == str(
        worker["deploy"]["replicas"]
    )
    # the image it builds installs this project
    dockerfile = (ROOT / "examples" / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "COPY resultsformat" in dockerfile
    for svc in services.values():
        if "build" in svc:
            assert (ROOT / "examples" / svc["build"]["context"]).resolve() == ROOT
