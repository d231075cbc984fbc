"""docker-compose.yml, read by a real YAML parser (Docker cannot run here) and checked."""

from __future__ import annotations

import dataclasses
import json
import re
from importlib import resources

import pytest
import yaml

from dti import settings as declared_settings
from dti.settings import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|_KEY$", re.I)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def test_services_of_the_stack(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "airflow-init",
        *AIRFLOW_SERVICES,
        "airflow-worker",
    }
    assert services["airflow-worker"]["profiles"] == ["celery"]
    for name in AIRFLOW_SERVICES:
        assert services[name]["command"][:2] == [
            "airflow",
            name.removeprefix("airflow-").replace("apiserver", "api-server"),
        ]
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["airflow-init"]["condition"] == "service_completed_successfully"


def test_every_long_running_service_has_a_health_check(compose: dict) -> None:
    for name, service in compose["services"].items():
        if name == "airflow-init":
            continue
        check = service.get("healthcheck")
        assert check and check["test"], name


def test_airflow_services_mount_inbox_warehouse_and_out(compose: dict) -> None:
    for name in (*AIRFLOW_SERVICES, "airflow-worker"):
        service = compose["services"][name]
        targets = {v.rsplit(":", 1)[-1] for v in service["volumes"]}
        assert {"/data/inbox", "/data/warehouse", "/data/out"} <= targets, name
        env = service["environment"]
        assert env["DTI_INBOX"] == "/data/inbox"
        assert env["DTI_WAREHOUSE"].startswith("/data/warehouse/")
        assert env["DTI_OUT"] == "/data/out"


# Settings of `make airflow` alone: the compose file has its own Redis connection
# (AIRFLOW_CONN_DTI_REDIS), UI port (AIRFLOW_UI_PORT) and database (POSTGRES_DB).
LOCAL_STACK_ONLY = {"DTI_REDIS_URL", "DTI_AIRFLOW_PORT", "DTI_AIRFLOW_DB"}
VOLUME = re.compile(r"^(?P<host>\$\{.*\}|[^:]+):(?P<target>/[^:]*)(?::ro|:rw)?$")


def test_every_setting_the_services_read_reaches_them(compose: dict) -> None:
    """Each DTI_* setting: a folder is set by the compose file to a mounted folder; any other
    value comes from .env as it is (``env_file``), listed in .env.example."""
    listed = _env_example()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text(encoding="utf-8")))
    for name in (*AIRFLOW_SERVICES, "airflow-worker"):
        service = compose["services"][name]
        assert [e["path"] for e in service["env_file"]] == [".env"], name
        env = service["environment"]
        mounts = {m["target"]: m["host"] for m in map(VOLUME.match, service["volumes"]) if m}
        for cls in (declared_settings.Settings, declared_settings.OrchestrationSettings):
            for field in dataclasses.fields(cls):
                variable = field.metadata.get("env")
                if variable is None:
                    continue
                assert variable in listed, variable
                if variable in LOCAL_STACK_ONLY:
                    assert variable not in env, (name, variable)
                elif field.metadata["parse"] is declared_settings.path:
                    # a host path would mean nothing inside the container
                    folder = str(env.get(variable, ""))
                    assert any(
                        folder == target or folder.startswith(f"{target}/") for target in mounts
                    ), (name, variable, folder)
                    if variable in used:  # a host folder named in .env is what is mounted
                        assert f"${{{variable}:-" in mounts[folder], (name, variable)
                else:
                    assert variable not in env or str(env[variable]).startswith(
                        f"${{{variable}:-"
                    ), (name, variable, "overrides .env")


def test_the_services_name_the_lineage_of_the_dti_tasks(compose: dict) -> None:
    from orchestration.lineage import EXTRACTOR

    for name in (*AIRFLOW_SERVICES, "airflow-worker"):
        env = compose["services"][name]["environment"]
        assert env["AIRFLOW__OPENLINEAGE__EXTRACTORS"] == EXTRACTOR, name


def test_airflow_is_pinned_and_the_pool_is_created(compose: dict) -> None:
    init = compose["services"]["airflow-init"]
    assert "airflow pools set dti_duckdb 1" in "\n".join(init["command"])
    dockerfile = compose["services"]["airflow-scheduler"]["build"]["dockerfile_inline"]
    # the image's Airflow is the one the runtime lock pins (the lock is what the image installs)
    lock = (PROJECT_ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert "apache/airflow:3.3.2-" in dockerfile and "\napache-airflow==3.3.2 " in lock
    # The image holds every package the DAGs import, the dbt project and the DAGs themselves.
    for folder in (
        "dti",
        "ingest",
        "dbt_project",
        "expectations",
        "publish",
        "pipeline",
        "orchestration",
        "dags",
    ):
        assert (PROJECT_ROOT / folder).is_dir()
        assert f" {folder} /opt/dti/{folder}\n" in dockerfile, folder


def test_no_secret_is_committed(compose: dict) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAMES.search(key) and not key.endswith("_FILE") and value:
                assert str(value).startswith("${"), f"{name}: {key} holds a literal value"
    text = COMPOSE.read_text(encoding="utf-8")
    for variable in sorted(set(re.findall(r"\$\{([A-Z0-9_]+)", text))):
        assert variable in _env_example() or variable == "HOSTNAME", variable
    for key, value in _env_example().items():
        if SECRET_NAMES.search(key):
            assert value in ("",) or value.startswith("change-me"), key


def test_matches_the_compose_specification(compose: dict) -> None:
    """The compose-spec JSON schema that check-jsonschema ships (when installed)."""
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("check_jsonschema", reason="check-jsonschema ships the compose-spec schema")
    schema_file = resources.files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}"
        for e in jsonschema.validators.validator_for(schema)(schema).iter_errors(compose)
    ]
    assert errors == []
