"""docker-compose.yaml, checked without a Docker engine (none runs where this is built).

The file is read as compose reads it (YAML anchors and merge keys, then `${...}` interpolation),
validated against the compose-spec JSON schema vendored by check-jsonschema, and held to what
matters: the services and profiles, healthchecks, start-up order, mounts, the executor, the pins
installed, and the `local` profile's wiring (the stand-in for AWS, and Label Studio: its pinned image,
database, volume, settings and the connection Airflow gets to it). The profile's connections and its
one-shot script are then run for real against the stand-in started with the service's own command,
ports and host names excepted. What only a Docker engine can show (images pull and build,
containers start and turn healthy, the UI answers) is not checked here; docs/docker-compose.md
says so.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from local_aws.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOC = ROOT / "docs" / "docker-compose.md"
AIRFLOW_VERSION = "3.3.2"
AIRFLOW_IMAGE = f"apache/airflow:{AIRFLOW_VERSION}"

LONG_RUNNING = {
    "postgres",
    "redis",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "flower",
    "local-aws",
    "label-studio",
    "label-studio-db",
}
ONE_SHOTS = {"airflow-init", "local-aws-init", "airflow-cli", "label-studio-data-init"}
PROFILES = {
    "airflow-cli": ["debug"],
    "flower": ["flower"],
    "local-aws": ["local"],
    "local-aws-init": ["local"],
    "label-studio": ["local"],
    "label-studio-db": ["local"],
    "label-studio-data-init": ["local"],
}
# Every service that runs Airflow: the ones built on the x-airflow-common anchor.
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
    "airflow-cli",
    "flower",
    "local-aws-init",
}
# airflow-cli is a debugging tool (as in the official file) and local-aws runs no Airflow.
WAITS_FOR_AIRFLOW_INIT = AIRFLOW_SERVICES - {"airflow-init", "airflow-cli"}
MOUNTS = {
    "./dags": "/opt/airflow/dags",
    "./plugins": "/opt/airflow/plugins",
    "./include": "/opt/airflow/include",
    "./logs": "/opt/airflow/logs",
    "./config": "/opt/airflow/config",
}
LOCAL_AWS = "local-aws"
LABEL_STUDIO = "label-studio"
LABEL_STUDIO_DB = "label-studio-db"
LABEL_STUDIO_DATA_INIT = "label-studio-data-init"
LABEL_STUDIO_DATA = "/label-studio/data"  # the image's LABEL_STUDIO_BASE_DATA_DIR

# Compose's interpolation: `$$` is a literal `$`; `${NAME}`, `${NAME:-default}` (unset or empty)
# and `${NAME-default}` (unset) are the forms this file may use.
_INTERPOLATION = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<other>.?))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?-)(?P<default>[^$]*))?")


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """`node` with every string interpolated as `docker compose` would with the variables `env`."""
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    if not isinstance(node, str):
        return node

    def substitute(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        braced = _BRACED.fullmatch(match["braced"] or "")
        if braced is None:
            raise AssertionError(f"{match[0]!r} in {node!r} is not an interpolation this test understands")
        value = env.get(braced["name"])
        if braced["operator"] == ":-" and not value:
            return braced["default"]
        if braced["operator"] == "-" and value is None:
            return braced["default"]
        return value or ""

    return _INTERPOLATION.sub(substitute, node)


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose) -> dict[str, Any]:
    """The services as `docker compose config` would show them with no variables set."""
    return interpolate(compose["services"], {})


def requirement_pins(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def locked_version(package: str) -> str:
    pins = dict(line.split("==", 1) for line in requirement_pins(ROOT / "requirements" / "lock.txt"))
    return pins[package]


def dockerfile_pip_install(path: Path) -> list[str]:
    """The arguments of the Dockerfile's `RUN pip install`, continuation lines joined."""
    text = path.read_text().replace("\\\n", " ")
    (command,) = [line for line in text.splitlines() if line.startswith("RUN pip install")]
    return shlex.split(command.removeprefix("RUN pip install"))


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in service.get("depends_on", {}).items()}


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in service.get("environment", {}).items()}


def bash_script(service: dict[str, Any]) -> str:
    """The script of a service whose command is `bash -c <script>` (or entrypoint bash, command -c)."""
    command = service["command"]
    return command[-1] if command[-2] == "-c" else pytest.fail(f"not a bash -c command: {command}")


def local_aws_command(services: dict[str, Any]) -> list[str]:
    command = services[LOCAL_AWS]["command"]
    assert command[:3] == ["python", "-m", "local_aws"]
    return command[3:]


def local_aws_args(services: dict[str, Any], monkeypatch):
    """The stand-in's own parser over the service's command; port checks (they would bind 0.0.0.0) off."""
    import local_aws.__main__ as cli

    asked = []
    monkeypatch.setattr(cli, "_port_is_free", lambda host, port: asked.append((host, port)) or True)
    args = cli.parse_args(local_aws_command(services))
    assert asked == [(args.host, args.moto_port), (args.host, args.port)]
    return args


def label_studio_version() -> str:
    """The version requirements/labelstudio.in pins (the local harness's Label Studio)."""
    (pin,) = requirement_pins(ROOT / "requirements" / "labelstudio.in")
    name, version = pin.split("==")
    assert name == "label-studio"
    return version


def named_volumes(service: dict[str, Any]) -> dict[str, str]:
    """volume name -> mount point, for the named volumes (not bind mounts) of a service."""
    mounts = dict(volume.split(":")[:2] for volume in service.get("volumes", []))
    return {source: target for source, target in mounts.items() if not source.startswith((".", "/"))}


def published_ports(service: dict[str, Any]) -> dict[int, str]:
    """container port -> the host address:port it is published on."""
    published = {}
    for spec in service.get("ports", []):
        *host, container = str(spec).split(":")
        published[int(container)] = ":".join(host)
    return published


# -- the file as a whole ----------------------------------------------------------------------------


def compose_schema() -> dict[str, Any]:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendored / "compose-spec.json").read_text())


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_the_file_follows_the_compose_specification(compose):
    assert schema_errors(compose) == []
    assert schema_errors(interpolate(compose, {})) == []


def test_the_schema_check_catches_a_broken_file(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["airflow-scheduler"]["depends_on"]["airflow-init"]["condition"] = "service_done"
    broken["services"]["redis"]["healthchek"] = broken["services"]["redis"].pop("healthcheck")
    errors = schema_errors(broken)
    assert any(error.startswith("services/airflow-scheduler/depends_on: ") for error in errors), errors
    assert any(error.startswith("services/redis: ") and "'healthchek'" in error for error in errors), errors


def test_every_dollar_is_an_interpolation_or_escaped():
    """A bare `$name` would be interpolated by compose, not by the container's shell: `$$` is meant."""
    text = COMPOSE_FILE.read_text()
    bare = re.findall(r"(?<!\$)\$(?![${])\S*", text.replace("$$", ""))
    assert bare == []
    interpolate(load_compose(), {})  # raises on a form compose would read otherwise


def test_every_variable_compose_reads_is_documented_at_the_top():
    text = COMPOSE_FILE.read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text.replace("$$", "")))
    header = text.split("\n---\n", 1)[0]
    documented = set(re.findall(r"^#   ([A-Z_][A-Z0-9_]+) ", header, re.MULTILINE))
    assert used == documented


# -- services, healthchecks, start-up order ----------------------------------------------------------


def test_the_services_and_their_profiles(services):
    assert set(services) == LONG_RUNNING | ONE_SHOTS
    assert {
        name: service["profiles"] for name, service in services.items() if "profiles" in service
    } == PROFILES


def test_every_long_running_service_has_a_healthcheck_and_restarts(services):
    for name in LONG_RUNNING:
        healthcheck = services[name].get("healthcheck", {})
        assert healthcheck.get("test", [None])[0] in {"CMD", "CMD-SHELL"}, name
        assert {"interval", "retries", "start_period"} <= set(healthcheck), name
        assert services[name]["restart"] == "always", name
    for name in ONE_SHOTS:
        assert "healthcheck" not in services[name], name
        assert "restart" not in services[name], name


def test_the_healthchecks_ask_the_right_ports(services):
    apiserver = services["airflow-apiserver"]
    assert published_ports(apiserver) == {8080: "8080"}
    assert apiserver["healthcheck"]["test"] == [
        "CMD",
        "curl",
        "--fail",
        "http://localhost:8080/api/v2/monitor/health",
    ]
    assert environment(services["airflow-scheduler"])["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert "http://localhost:8974/health" in services["airflow-scheduler"]["healthcheck"]["test"]
    assert "TriggererJob" in services["airflow-triggerer"]["healthcheck"]["test"][1]
    assert "DagProcessorJob" in services["airflow-dag-processor"]["healthcheck"]["test"][1]
    assert 'inspect ping -d "celery@${HOSTNAME}"' in services["airflow-worker"]["healthcheck"]["test"][1]


def test_healthcheck_and_init_scripts_are_valid_bash(services):
    scripts = {name: bash_script(services[name]) for name in ("airflow-init", "local-aws-init")}
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test", [])
        if test and test[0] == "CMD-SHELL":
            scripts[f"{name} healthcheck"] = test[1]
    for name, script in scripts.items():
        checked = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True)
        assert checked.returncode == 0, f"{name}: {checked.stderr}"


def test_everything_starts_after_its_dependencies(services):
    for name in AIRFLOW_SERVICES:
        assert (
            depends_on(services[name]).items()
            >= {"postgres": "service_healthy", "redis": "service_healthy"}.items()
        )
    waiting = {name for name, service in services.items() if "airflow-init" in depends_on(service)}
    assert waiting == WAITS_FOR_AIRFLOW_INIT
    for name in waiting:
        assert depends_on(services[name])["airflow-init"] == "service_completed_successfully", name
    assert depends_on(services["airflow-worker"])["airflow-apiserver"] == "service_healthy"
    assert depends_on(services["local-aws-init"])[LOCAL_AWS] == "service_healthy"
    assert depends_on(services[LOCAL_AWS]) == {}
    assert depends_on(services[LABEL_STUDIO]) == {
        LABEL_STUDIO_DB: "service_healthy",
        LABEL_STUDIO_DATA_INIT: "service_completed_successfully",
    }
    assert depends_on(services[LABEL_STUDIO_DB]) == depends_on(services[LABEL_STUDIO_DATA_INIT]) == {}
    # Creating label_studio_default needs only Airflow's database: AWS seeding never waits for Label Studio.
    assert LABEL_STUDIO not in depends_on(services["local-aws-init"])


def test_the_local_profile_publishes_on_the_loopback_only(services):
    published = {
        name: published_ports(service)
        for name, service in services.items()
        if service.get("profiles") == ["local"] and "ports" in service
    }
    assert set(published) == {LOCAL_AWS, LABEL_STUDIO}
    for name, ports in published.items():
        for container_port, host in ports.items():
            assert host.startswith("127.0.0.1:"), f"{name}:{container_port} is published on {host}"
    assert services[LABEL_STUDIO_DB].get("ports") is None  # reached on the compose network only


def test_no_service_waits_for_one_its_profiles_leave_out(services):
    """`docker compose up` with no profile must not need a service that only a profile starts."""
    for name, service in services.items():
        for dependency in depends_on(service):
            assert dependency in services, f"{name} depends on the unknown {dependency}"
            needed = set(services[dependency].get("profiles", []))
            assert not needed or needed & set(service.get("profiles", [])), f"{name} -> {dependency}"


# -- the Airflow services ------------------------------------------------------------------------------


def test_every_airflow_service_runs_the_same_image_settings_and_mounts(compose, services):
    common = compose["x-airflow-common"]
    assert common["image"] == f"${{AIRFLOW_IMAGE_NAME:-{AIRFLOW_IMAGE}}}"
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["image"] == AIRFLOW_IMAGE, name
        mounts = dict(volume.split(":")[:2] for volume in service["volumes"])
        assert mounts == MOUNTS, name
        env = environment(service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false", name
        assert (
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
            == "postgresql+psycopg2://airflow:airflow@postgres/airflow"
        )
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@redis:6379/0"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW_CONFIG"] == "/opt/airflow/config/airflow.cfg"
        assert not any(key.startswith("AIRFLOW_CONN_") for key in env), f"{name} shadows the DB connections"
    for folder in ("dags", "plugins", "include"):
        assert (ROOT / folder).is_dir()


def test_files_belong_to_airflow_uid(compose):
    for env, uid in (({}, "50000"), ({"AIRFLOW_UID": "1234"}, "1234")):
        services = interpolate(compose["services"], env)
        for name in AIRFLOW_SERVICES - {"airflow-init"}:
            assert services[name]["user"] == f"{uid}:0", name
        assert services["airflow-init"]["user"] == "0:0"
        init_script = bash_script(services["airflow-init"])
        assert f'chown -R "{uid}:0" /opt/airflow/{{logs,config}}' in init_script
    unset = bash_script(interpolate(compose["services"], {})["airflow-init"])
    assert '[[ -z "" ]]' in unset  # AIRFLOW_UID unset: the init script warns


def test_the_init_job_migrates_and_creates_the_admin(services):
    env = environment(services["airflow-init"])
    assert env["_AIRFLOW_DB_MIGRATE"] == env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    assert (env["_AIRFLOW_WWW_USER_USERNAME"], env["_AIRFLOW_WWW_USER_PASSWORD"]) == ("airflow", "airflow")
    assert services["airflow-init"]["entrypoint"] == "/bin/bash"
    assert "/entrypoint airflow version" in bash_script(services["airflow-init"])


def test_requirements_txt_is_installed_with_its_exact_pins(compose):
    pins = requirement_pins(ROOT / "requirements.txt")
    assert pins, "requirements.txt pins nothing"
    assert all("==" in pin for pin in pins), pins
    defaults = interpolate(compose["services"], {})
    emptied = interpolate(compose["services"], {"_PIP_ADDITIONAL_REQUIREMENTS": ""})
    for name in AIRFLOW_SERVICES:
        expected = "" if name in {"airflow-init", "local-aws-init"} else " ".join(pins)
        assert environment(defaults[name])["_PIP_ADDITIONAL_REQUIREMENTS"] == expected, name
        # An image built from ./Dockerfile has them: `_PIP_ADDITIONAL_REQUIREMENTS=` in .env turns it off.
        assert environment(emptied[name])["_PIP_ADDITIONAL_REQUIREMENTS"] == "", name


def test_the_image_is_the_airflow_the_project_is_locked_to():
    assert locked_version("apache-airflow") == AIRFLOW_VERSION
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"FROM {AIRFLOW_IMAGE}\n" in dockerfile
    assert "COPY requirements.txt /requirements.txt" in dockerfile
    assert dockerfile_pip_install(ROOT / "Dockerfile")[-2:] == ["-r", "/requirements.txt"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ignored[-2:] == ["*", "!requirements.txt"]


# -- the `local` profile -------------------------------------------------------------------------------


def test_the_stand_in_image_has_the_locked_versions(services):
    build = services[LOCAL_AWS]["build"]
    assert build["args"] == {"AIRFLOW_IMAGE_NAME": AIRFLOW_IMAGE}
    dockerfile = ROOT / "local_aws" / "Dockerfile"
    assert build["context"] == "./local_aws"
    assert dockerfile.is_file()
    assert f"ARG AIRFLOW_IMAGE_NAME={AIRFLOW_IMAGE}\nFROM ${{AIRFLOW_IMAGE_NAME}}\n" in dockerfile.read_text()
    installed = dockerfile_pip_install(dockerfile)
    assert installed == [
        "--no-cache-dir",
        "apache-airflow==${AIRFLOW_VERSION}",
        f"moto[server,s3,sagemaker]=={locked_version('moto')}",
        f"python-liquid=={locked_version('python-liquid')}",
        f"pillow=={locked_version('pillow')}",
    ]
    dev_in = (ROOT / "requirements" / "dev.in").read_text()
    assert f"moto[server,s3,sagemaker]=={locked_version('moto')}\n" in dev_in


def test_the_stand_in_listens_on_every_interface_under_its_service_name(services, monkeypatch):
    service = services[LOCAL_AWS]
    args = local_aws_args(services, monkeypatch)
    assert args.host == "0.0.0.0"
    assert args.advertise_host == LOCAL_AWS  # its DNS name on the compose network
    assert "." not in args.advertise_host  # so moto takes bucket names from the path, not the host
    assert args.auto_review
    assert published_ports(service) == {
        args.moto_port: f"127.0.0.1:{args.moto_port}",
        args.port: f"127.0.0.1:{args.port}",
    }
    health = service["healthcheck"]["test"][1]
    assert f"http://127.0.0.1:{args.port}/_emulator/health" in health
    assert f"http://127.0.0.1:{args.moto_port}/moto-api/config" in health
    mounts = dict(volume.split(":")[:2] for volume in service["volumes"])
    assert mounts == {"./local_aws": "/opt/airflow/local_aws", "./include": "/opt/airflow/include"}
    assert service["working_dir"] == "/opt/airflow"


def test_the_profile_points_aws_default_at_the_stand_in(services, monkeypatch):
    from local_aws.__main__ import EMULATED_SERVICES, connection

    args = local_aws_args(services, monkeypatch)
    created = json.loads(environment(services["local-aws-init"])["LOCAL_AWS_CONNECTION"])
    moto_url = f"http://{LOCAL_AWS}:{args.moto_port}"
    emulator_url = f"http://{LOCAL_AWS}:{args.port}"
    # Exactly what the stand-in prints as its connection when started with the service's command.
    assert created == connection(args.region, moto_url, emulator_url)
    assert created["extra"]["endpoint_url"] == moto_url  # S3 and everything else: moto
    assert set(EMULATED_SERVICES) == {"sagemaker", "sagemaker-a2i-runtime", "sagemaker-runtime"}
    assert created["extra"]["service_config"] == {
        service: {"endpoint_url": emulator_url} for service in EMULATED_SERVICES
    }
    script = bash_script(services["local-aws-init"])
    assert "airflow connections delete aws_default" in script
    assert 'airflow connections add aws_default --conn-json "${LOCAL_AWS_CONNECTION}"' in script


# -- the `local` profile: Label Studio ------------------------------------------------------------------


def test_label_studio_is_the_official_image_at_the_version_the_project_pins(services):
    image = f"heartexlabs/label-studio:{label_studio_version()}"
    for name in (LABEL_STUDIO, LABEL_STUDIO_DATA_INIT):
        assert services[name]["image"] == image, name
        assert "build" not in services[name], name
    service = services[LABEL_STUDIO]
    # The image's own entrypoint and command (`label-studio`: migrate, make the admin, serve on 8080).
    assert "command" not in service
    assert "entrypoint" not in service
    assert service["user"] == "1001:0"  # the user the official image runs as


def test_label_studio_keeps_its_data_in_a_named_volume_its_user_owns(compose, services):
    service, init = services[LABEL_STUDIO], services[LABEL_STUDIO_DATA_INIT]
    assert len(named_volumes(service)) == 1, service["volumes"]  # a named volume, not a bind mount
    (volume,) = named_volumes(service)
    assert named_volumes(service) == named_volumes(init) == {volume: LABEL_STUDIO_DATA}
    assert service["volumes"] == [f"{volume}:{LABEL_STUDIO_DATA}"]  # read-write
    assert volume in compose["volumes"]
    uid = service["user"].split(":")[0]
    assert init["user"] == "0:0"
    assert init["entrypoint"] == ["chown", "-R", f"{uid}:0", LABEL_STUDIO_DATA]
    assert "command" not in init


def test_label_studio_has_a_postgres_of_its_own(compose, services):
    env, db = environment(services[LABEL_STUDIO]), services[LABEL_STUDIO_DB]
    db_env = environment(db)
    assert env["DJANGO_DB"] == "default"  # Label Studio's name for its PostgreSQL settings
    assert env["POSTGRE_HOST"] == LABEL_STUDIO_DB
    assert env["POSTGRE_PORT"] == "5432"
    assert (env["POSTGRE_NAME"], env["POSTGRE_USER"], env["POSTGRE_PASSWORD"]) == (
        db_env["POSTGRES_DB"],
        db_env["POSTGRES_USER"],
        db_env["POSTGRES_PASSWORD"],
    )
    assert db["image"] == services["postgres"]["image"]  # one Postgres image to pull
    ready = ["pg_isready", "-U", env["POSTGRE_USER"], "-d", env["POSTGRE_NAME"]]
    assert db["healthcheck"]["test"] == ["CMD", *ready]
    (db_volume,) = named_volumes(db)
    assert named_volumes(db) == {db_volume: "/var/lib/postgresql/data"}
    assert db_volume in compose["volumes"]
    assert db_volume not in named_volumes(services["postgres"])  # Airflow's database stays apart
    assert db_env["POSTGRES_DB"] != environment(services["postgres"])["POSTGRES_DB"]


def label_studio_port(services: dict[str, Any]) -> int:
    """The port Label Studio serves on in its container: the one published and health-checked."""
    (port,) = published_ports(services[LABEL_STUDIO])
    return port


def test_label_studio_answers_its_healthcheck_on_the_published_port(services):
    service, port = services[LABEL_STUDIO], label_studio_port(services)
    assert port == 8080  # `label-studio` serves on 8080 unless told otherwise, and is not
    assert not {"PORT", "LABEL_STUDIO_PORT"} & set(environment(service))
    assert published_ports(service) == {port: "127.0.0.1:8081"}  # 8080 on the host is Airflow's
    healthcheck = service["healthcheck"]
    assert healthcheck["test"][0] == "CMD"
    assert healthcheck["test"][1:3] == ["curl", "--fail"]
    assert healthcheck["test"][-1] == f"http://127.0.0.1:{port}/health"
    assert int(healthcheck["start_period"].removesuffix("s")) >= 120  # migrations on the first start


def test_label_studio_runs_offline_with_the_local_harness_settings(services):
    """The settings local_labelstudio/server.py starts Label Studio with, the per-run URL and data dir
    excepted, and its login: `make labelstudio` and the compose service behave and log in alike."""
    from local_labelstudio import server

    env = environment(services[LABEL_STUDIO])
    harness = server._environment("http://127.0.0.1:1", Path("/unused"))
    settings = {name: value for name, value in harness.items() if name.startswith("LABEL_STUDIO_")}
    del settings["LABEL_STUDIO_HOST"], settings["LABEL_STUDIO_BASE_DATA_DIR"]
    assert {"LABEL_STUDIO_LATEST_VERSION_CHECK", "LABEL_STUDIO_SSRF_PROTECTION_ENABLED"} <= set(settings)
    assert {name: env.get(name) for name in settings} == settings
    assert env["LABEL_STUDIO_USERNAME"] == server.DEFAULT_USERNAME
    assert env["LABEL_STUDIO_PASSWORD"] == server.DEFAULT_PASSWORD
    assert env["LABEL_STUDIO_USER_TOKEN"] == server.DEFAULT_TOKEN
    # The token is a legacy one (the harness passes --enable-legacy-api-token): allowed, and long
    # enough for Label Studio to apply it (it ignores 5 characters or fewer).
    assert env["LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN"] == "true"
    assert len(env["LABEL_STUDIO_USER_TOKEN"]) > 5


def test_the_profile_points_label_studio_default_at_the_service(services, monkeypatch):
    from urllib.parse import urlsplit

    from hitl_detection.hooks.label_studio import LabelStudioHook

    init_env = environment(services["local-aws-init"])
    created = json.loads(init_env["LOCAL_LABEL_STUDIO_CONNECTION"])
    assert created["conn_type"] == LabelStudioHook.conn_type == "http"
    studio_env = environment(services[LABEL_STUDIO])
    # What the hook makes of it: the service's name and port on the compose network, and the token.
    monkeypatch.setenv("AIRFLOW_CONN_LABEL_STUDIO_DEFAULT", init_env["LOCAL_LABEL_STUDIO_CONNECTION"])
    hook = LabelStudioHook()
    assert hook.label_studio_conn_id == "label_studio_default"
    base_url = urlsplit(hook.base_url)
    port = label_studio_port(services)
    assert (base_url.scheme, base_url.hostname, base_url.port) == ("http", LABEL_STUDIO, port)
    assert base_url.path == ""
    assert hook._settings[1] == studio_env["LABEL_STUDIO_USER_TOKEN"]
    assert hook._refresh_token is None  # sent as a legacy `Token`, which the service enables
    script = bash_script(services["local-aws-init"])
    assert "airflow connections delete label_studio_default" in script
    added = 'airflow connections add label_studio_default --conn-json "${LOCAL_LABEL_STUDIO_CONNECTION}"'
    assert added in script
    # Not airflow-init's job: it runs without the profile too, and would replace a team's connection.
    assert "label_studio_default" not in bash_script(services["airflow-init"])
    assert not any("LABEL_STUDIO" in name for name in environment(services["airflow-init"]))


# -- the `local` profile for real -----------------------------------------------------------------------


def on_this_machine(text: str, ports: dict[int, int], host: str = "localhost") -> str:
    """`text` with the service's host name and ports replaced by those of the local stand-in."""
    for compose_port, local_port in ports.items():
        text = text.replace(f"//{LOCAL_AWS}:{compose_port}", f"//{host}:{local_port}")
    return text


@pytest.fixture(scope="module")
def local_profile(airflow_db, tmp_path_factory):
    """The stand-in started with the local-aws service's command, except that it listens on 127.0.0.1,
    calls itself `localhost` (a name, as `local-aws` is) and takes free ports."""
    from local_aws.stack import start_stack

    services = interpolate(load_compose()["services"], {})
    command = local_aws_command(services)
    ports = {int(command[command.index(option) + 1]): free_port() for option in ("--moto-port", "--port")}
    local_command = []
    tokens = iter(command)
    for token in tokens:
        if token == "--host":
            next(tokens)
            continue
        local_command.append(token)
        if token in {"--moto-port", "--port"}:
            local_command.append(str(ports[int(next(tokens))]))
        elif token == "--advertise-host":
            next(tokens)
            local_command.append("localhost")
    assert "0.0.0.0" not in local_command
    log_path = tmp_path_factory.mktemp("local-profile") / "stack.log"
    with start_stack(*local_command, log_path=log_path) as stack:
        yield services, stack, ports


@pytest.mark.stack
def test_the_stand_in_prints_the_connection_the_profile_creates(local_profile):
    services, stack, ports = local_profile
    created = environment(services["local-aws-init"])["LOCAL_AWS_CONNECTION"]
    assert stack.connection == json.loads(on_this_machine(created, ports))


@pytest.mark.stack
def test_the_one_shot_sets_the_connection_and_seeds_the_images_idempotently(local_profile, monkeypatch):
    """Runs local-aws-init's script, twice, with this machine's Airflow and the stand-in, then goes
    through the Amazon provider's hooks with the connection it created."""
    services, stack, ports = local_profile
    env = environment(services["local-aws-init"])
    bucket = env["LOCAL_AWS_BUCKET"]
    assert env["LOCAL_AWS_SAMPLE_IMAGES"] == "/opt/airflow/include/sample_images"
    samples = ROOT / "include" / "sample_images"
    run_env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "LOCAL_AWS_CONNECTION": on_this_machine(env["LOCAL_AWS_CONNECTION"], ports),
        "LOCAL_LABEL_STUDIO_CONNECTION": env["LOCAL_LABEL_STUDIO_CONNECTION"],
        "LOCAL_AWS_BUCKET": bucket,
        "LOCAL_AWS_SAMPLE_IMAGES": str(samples),
        # As in the compose file (no FERNET_KEY): stored in clear, so this process reads it back.
        "AIRFLOW__CORE__FERNET_KEY": env["AIRFLOW__CORE__FERNET_KEY"],
    }
    for name in ("AIRFLOW_CONN_AWS_DEFAULT", "AIRFLOW_CONN_LABEL_STUDIO_DEFAULT"):
        run_env.pop(name, None)  # the script's connections, from the database, alone
    images = sorted(path.name for path in samples.iterdir() if path.suffix in (".jpg", ".png"))
    for attempt in (1, 2):
        ran = subprocess.run(
            ["bash", "-c", bash_script(services["local-aws-init"])],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert ran.returncode == 0, f"run {attempt}:\n{ran.stdout}\n{ran.stderr}"
        assert f"{len(images)} sample images are in s3://{bucket}/images/" in ran.stdout
        listed = stack.client("s3").list_objects_v2(Bucket=bucket, Prefix="images/")["Contents"]
        assert sorted(item["Key"] for item in listed) == [f"images/{name}" for name in images]

    from airflow.models import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    expected = json.loads(run_env["LOCAL_AWS_CONNECTION"])
    studio = json.loads(run_env["LOCAL_LABEL_STUDIO_CONNECTION"])
    with create_session() as session:
        stored = session.scalars(select(Connection).where(Connection.conn_id == "aws_default")).all()
        assert [(conn.conn_type, conn.login, conn.password, conn.extra_dejson) for conn in stored] == [
            (expected["conn_type"], expected["login"], expected["password"], expected["extra"])
        ]
        stored = session.scalars(select(Connection).where(Connection.conn_id == "label_studio_default")).all()
        assert [(conn.conn_type, conn.host, conn.password) for conn in stored] == [
            (studio["conn_type"], studio["host"], studio["password"])
        ]

    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", run_env["LOCAL_AWS_CONNECTION"])
    assert sorted(S3Hook().list_keys(bucket, prefix="images/")) == [f"images/{name}" for name in images]
    # ListHumanTaskUis is the emulator's alone: moto would answer it with an error.
    assert SageMakerHook().conn.list_human_task_uis()["HumanTaskUiSummaries"] == []
    moto_port, emulator_port = ports.values()
    for service, port in (
        ("s3", moto_port),
        ("sagemaker", emulator_port),
        ("sagemaker-a2i-runtime", emulator_port),
        ("sagemaker-runtime", emulator_port),
    ):
        assert AwsBaseHook(client_type=service).conn.meta.endpoint_url == f"http://localhost:{port}", service


# -- the documentation ---------------------------------------------------------------------------------


def documented_confs() -> dict[tuple[str, str], dict[str, Any]]:
    """The JSON blocks of docs/docker-compose.md, by the DAG whose conf they are and its review backend."""
    confs: dict[tuple[str, str], dict[str, Any]] = {}
    for block in re.findall(r"```json\n(.*?)```", DOC.read_text(), re.DOTALL):
        conf = json.loads(block)
        dag_id = "detect_and_review" if "input_s3_uri" in conf else "review_workflow_setup"
        key = (dag_id, conf.get("review_backend", "a2i"))
        assert key not in confs, f"two configurations of {key} in {DOC.name}"
        confs[key] = conf
    return confs


def test_the_documented_confs_fit_the_local_profile_and_the_dags(services):
    from airflow.dag_processing.dagbag import DagBag

    from hitl_detection.domain.run_config import RunConfig
    from local_aws.core.arns import sagemaker_arn

    confs = documented_confs()
    dags = ("review_workflow_setup", "detect_and_review")
    assert set(confs) == {(dag_id, backend) for dag_id in dags for backend in ("a2i", "labelstudio")}
    setup, detect = confs["review_workflow_setup", "a2i"], confs["detect_and_review", "a2i"]
    bucket = environment(services["local-aws-init"])["LOCAL_AWS_BUCKET"]
    assert detect["input_s3_uri"] == f"s3://{bucket}/images/"
    assert detect["output_s3_uri"].startswith(f"s3://{bucket}/")
    assert setup["s3_output_path"].startswith(f"s3://{bucket}/")
    connection = json.loads(environment(services["local-aws-init"])["LOCAL_AWS_CONNECTION"])
    # The ARN the stand-in gives the flow definition review_workflow_setup creates.
    region, flow_name = connection["extra"]["region_name"], setup["flow_definition_name"]
    flow_arn = sagemaker_arn(region, "flow-definition", flow_name)
    assert detect["flow_definition_arn"] == flow_arn

    setup, detect = confs["review_workflow_setup", "labelstudio"], confs["detect_and_review", "labelstudio"]
    assert setup["images_s3_uri"] == detect["input_s3_uri"] == f"s3://{bucket}/images/"
    assert setup["labels"] == detect["labels"]
    # Label Studio reaches the images by the endpoint of aws_default, as Airflow does: no override.
    assert "label_studio_s3_endpoint_url" not in setup
    assert detect["label_studio_project_id"] == 1  # the first project of a new Label Studio
    assert "flow_definition_arn" not in detect

    dag_bag = DagBag(dag_folder=str(ROOT / "dags")).dags
    for (dag_id, backend), conf in confs.items():
        params = copy.deepcopy(dag_bag[dag_id].params)
        params.update(conf)  # as a triggered run does: the form's schema checks every value
        resolved = params.validate()
        assert resolved["review_backend"] == backend
        if dag_id == "detect_and_review":
            assert RunConfig.from_params(resolved).review_backend == backend


def test_the_documentation_gives_label_studio_s_address_and_login(services):
    text = DOC.read_text()
    env = environment(services[LABEL_STUDIO])
    host_port = published_ports(services[LABEL_STUDIO])[label_studio_port(services)].split(":")[-1]
    assert f"<http://localhost:{host_port}>" in text
    assert f"`{env['LABEL_STUDIO_USERNAME']}` / `{env['LABEL_STUDIO_PASSWORD']}`" in text
    assert f"heartexlabs/label-studio:{label_studio_version()}" in text
