"""Packaging: every distribution our code imports is declared in pyproject.toml, the runtime and
the development tools are locked apart with hashes, and the Docker image installs the runtime
alone."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

import pytest
import yaml

from dti.settings import PROJECT_ROOT

PRODUCT = ("dti", "ingest", "dbt_project", "expectations", "publish", "pipeline", "orchestration",
           "dags")  # fmt: skip
DEVELOPMENT = ("tests", "testkit", "bench")
OURS = {*PRODUCT, *DEVELOPMENT}
# what only tests, benchmarks and linters use: never in the image
TOOLS = {"pytest", "pytest-timeout", "ruff", "selenium", "sqlfluff", "sqlfluff-templater-dbt",
         "import-linter", "check-jsonschema", "aiosmtpd", "frictionless"}  # fmt: skip


def _name(requirement: str) -> str:
    """The normalized distribution name of a requirement (``PyYAML>=6`` → ``pyyaml``)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]).lower()


def _pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _locked(lock: str) -> dict[str, str]:
    """name → version of each package a lock pins, checking each carries its hashes."""
    text = (PROJECT_ROOT / lock).read_text(encoding="utf-8")
    pins: dict[str, str] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2]):
        found = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", entry)
        assert found, entry[:80]
        assert "--hash=sha256:" in entry, f"{lock}: {found.group(1)} has no hash"
        pins[_name(found.group(1))] = found.group(2)
    return pins


def _imported(folders: tuple[str, ...]) -> dict[str, set[str]]:
    """Top-level third-party modules imported in ``folders`` → the files that import them."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top not in OURS and top not in sys.stdlib_module_names:
                        found.setdefault(top, set()).add(str(path.relative_to(PROJECT_ROOT)))
    return found


def _undeclared(folders: tuple[str, ...], declared: set[str]) -> dict[str, set[str]]:
    providers = packages_distributions()
    return {
        module: files
        for module, files in _imported(folders).items()
        if not {_name(d) for d in providers.get(module, [module])} & declared
    }


def test_every_distribution_the_product_imports_is_a_runtime_dependency() -> None:
    runtime = {_name(r) for r in _pyproject()["project"]["dependencies"]}
    assert _undeclared(PRODUCT, runtime) == {}


def test_every_distribution_the_tests_import_is_declared() -> None:
    project = _pyproject()
    declared = {_name(r) for r in project["project"]["dependencies"]}
    declared |= {_name(r) for r in project["dependency-groups"]["dev"]}
    assert _undeclared(DEVELOPMENT, declared) == {}


def test_the_runtime_lock_holds_no_development_tool_and_agrees_with_the_dev_lock() -> None:
    runtime, dev = _locked("requirements.lock"), _locked("requirements-dev.lock")
    assert TOOLS <= {_name(r) for r in _pyproject()["dependency-groups"]["dev"]}
    assert TOOLS & set(runtime) == set()
    assert TOOLS <= set(dev)
    # the development venv runs the same versions the image installs
    assert {name: dev.get(name) for name in runtime} == runtime
    declared = {_name(r) for r in _pyproject()["project"]["dependencies"]}
    assert declared <= set(runtime), "make lock after changing pyproject.toml"


def test_the_image_installs_the_runtime_lock_alone_checked_by_hash() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    dockerfile = compose["x-airflow-build"]["dockerfile_inline"]
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs[0].split() == [
        "RUN", "pip", "install", "--no-cache-dir", "--require-hashes", "-r",
        "/opt/dti/requirements.lock",
    ]  # fmt: skip
    assert "--no-deps -e /opt/dti" in installs[1]
    assert "requirements-dev.lock" not in dockerfile


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_each_lock_serves_every_supported_python(lock: str) -> None:
    """One lock for 3.11 to 3.13 (uv's --universal): packages only one Python needs carry a
    marker, and the lock says how it was made."""
    project = _pyproject()["project"]
    assert project["requires-python"] == ">=3.11,<3.14"
    header = (PROJECT_ROOT / lock).read_text(encoding="utf-8").splitlines()[1]
    assert "--universal --python-version 3.11 --generate-hashes" in header
