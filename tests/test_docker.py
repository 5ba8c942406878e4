"""The Docker deployment files stay valid (the engine itself is not on CI machines)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker" / "compose.yaml"
ENV = {"SECRET_KEY": "s" * 50, "PATIENT_ID_HMAC_KEY": "h" * 40, "POSTGRES_PASSWORD": "pw"}


def test_compose_file_has_every_process_of_the_architecture():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "listener"} <= set(services)
    assert services["worker"]["command"][:3] == ["celery", "-A", "pedslink"]
    assert (ROOT / "docker" / "Dockerfile").read_text().startswith("# PedsLink")


def test_compose_config_validates():
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip("docker-compose is not installed")
    result = subprocess.run(
        [compose, "-f", str(COMPOSE), "config", "-q"],
        env=os.environ | ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
