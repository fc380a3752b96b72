"""The deployable chapter: docker-compose.yml, the Dockerfile and the entrypoints.

No Docker engine is needed: `docker-compose config` (Debian's v1) validates and
renders the compose file, the node's entrypoint runs against the project's own
`vecinos`, and the homeserver's settings are loaded by Synapse's own config
parser. Nothing here touches the network; the only address used is loopback.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
NODE_ENTRYPOINT = ROOT / "deploy" / "node" / "entrypoint.sh"
SYNAPSE_DIR = ROOT / "deploy" / "synapse"
VENV_BIN = Path(sys.executable).parent

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$", re.IGNORECASE)
INLINE_CREDENTIALS = re.compile(r"://[^\s/:@]+:[^\s@]+@")
SENTINEL = "sentinel-not-a-real-password"

ENV_SQLITE = {
    "VECINOS_CHAPTER": "Sur de San Diego",
    "SYNAPSE_SERVER_NAME": "chapter.example.org",
    "SYNAPSE_PUBLIC_BASEURL": "https://matrix.chapter.example.org/",
}
ENV_POSTGRES = {
    **ENV_SQLITE,
    "COMPOSE_PROFILES": "postgres",
    "POSTGRES_PASSWORD": SENTINEL,
    "VECINOS_DATABASE_URL": f"postgresql+psycopg://vecinos:{SENTINEL}@postgres:5432/vecinos",
    "SYNAPSE_DATABASE": "postgres",
}


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment: no variable of the developer's shell reaches compose."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env.update(extra)
    return env


def render(tmp_path: Path, values: dict[str, str], *args: str) -> dict[str, Any]:
    """`docker-compose config` with `values` as the env file; asserts it validates."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (./dev installs Debian's, as root)")
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    cmd = ["docker-compose", "--env-file", str(env_file), "-f", str(COMPOSE), *args, "config"]
    done = subprocess.run(
        cmd, cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr}"
    return yaml.safe_load(done.stdout)


VARIANTS = {
    "sqlite": (ENV_SQLITE, ()),
    "postgres-profile-from-env": (ENV_POSTGRES, ()),
    "postgres-profile-flag": (ENV_POSTGRES, ("--profile", "postgres")),
}


@pytest.fixture(params=list(VARIANTS), scope="module")
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    values, args = VARIANTS[request.param]
    return request.param, render(tmp_path_factory.mktemp(request.param), values, *args)


def published_ports(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host address, the whole entry) for each published port, short or long syntax."""
    ports = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.append((str(entry.get("host_ip", "")), json.dumps(entry)))
        else:
            text = str(entry)
            host = text.rsplit(":", 2)[0] if text.count(":") >= 2 else ""
            ports.append((host, text))
    return ports


def volume_for(config: dict[str, Any], service: str, target: str) -> str:
    """The named volume mounted at `target` in `service`, or fail."""
    for volume in config["services"][service].get("volumes", []):
        if isinstance(volume, dict):
            source, mounted, kind = volume.get("source"), volume.get("target"), volume.get("type")
        else:
            parts = str(volume).split(":")
            source, mounted = parts[0], parts[1] if len(parts) > 1 else parts[0]
            kind = "bind" if source.startswith(("/", ".")) else "volume"
        if mounted == target:
            assert kind == "volume", f"{service}: {target} must be a named volume"
            assert source in config.get("volumes", {}), f"{source} is not a declared volume"
            return source
    raise AssertionError(f"{service} has no volume for {target}")


# --- the compose file, as docker-compose renders it


def test_the_three_services(rendered) -> None:
    _, config = rendered
    services = config["services"]
    assert set(services) == {"node", "homeserver", "postgres"}
    assert services["homeserver"]["image"].startswith("matrixdotorg/synapse:")
    assert services["postgres"]["image"] == "postgres:16"
    assert Path(services["node"]["build"]["context"]) == ROOT
    assert services["postgres"].get("profiles") == ["postgres"]
    assert "profiles" not in services["node"]
    assert "profiles" not in services["homeserver"]


def test_every_published_port_is_on_loopback(rendered) -> None:
    _, config = rendered
    seen = 0
    for name, service in config["services"].items():
        for host, entry in published_ports(service):
            seen += 1
            assert host == "127.0.0.1", f"{name} publishes {entry} beyond loopback"
    assert seen >= 2  # the node and the homeserver
    assert not config["services"]["postgres"].get("ports"), "postgres must not be published"


def test_data_lives_in_named_volumes(rendered) -> None:
    _, config = rendered
    assert volume_for(config, "node", "/data")
    assert volume_for(config, "homeserver", "/data")
    assert volume_for(config, "postgres", "/var/lib/postgresql/data")


def test_no_host_networking_or_privileges(rendered) -> None:
    _, config = rendered
    for name, service in config["services"].items():
        assert service.get("network_mode") != "host", f"{name} uses host networking"
        assert not service.get("privileged"), f"{name} is privileged"
        assert service.get("pid") != "host" and service.get("ipc") != "host", name
        assert not service.get("cap_add"), f"{name} adds capabilities"
        assert not any(str(d).startswith("/dev") for d in service.get("devices", [])), name
    node = config["services"]["node"]
    assert node.get("read_only") is True
    assert node.get("cap_drop") == ["ALL"]


def test_restart_and_healthchecks(rendered) -> None:
    _, config = rendered
    for name, service in config["services"].items():
        assert service.get("restart") == "unless-stopped", name
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_secrets_come_from_the_environment(rendered) -> None:
    variant, config = rendered
    services = config["services"]
    if variant == "sqlite":
        assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == ""
        assert services["node"]["environment"]["VECINOS_DATABASE_URL"] == ""
    else:  # each secret in the rendered file is the one the env file gave
        assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == SENTINEL
        assert services["homeserver"]["environment"]["POSTGRES_PASSWORD"] == SENTINEL
        assert SENTINEL in services["node"]["environment"]["VECINOS_DATABASE_URL"]
        assert services["homeserver"]["environment"]["SYNAPSE_DATABASE"] == "postgres"


# --- the compose file as written (no docker-compose needed)


def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_no_literal_secret_in_the_compose_file() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    assert not INLINE_CREDENTIALS.search(text), "a URL with a literal user:password@"
    for name, service in raw_compose()["services"].items():
        env = service.get("environment", {})
        items = env.items() if isinstance(env, dict) else (e.partition("=")[::2] for e in env)
        for key, value in items:
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+(:?-)?\}", str(value or "")), (
                    f"{name}: {key} must come from the environment (${{{key}:-}}), not a literal"
                )
        assert "secrets" not in service or all(isinstance(s, str) for s in service["secrets"]), name


def test_every_port_in_the_file_names_loopback() -> None:
    for name, service in raw_compose()["services"].items():
        for entry in service.get("ports", []):
            assert str(entry).startswith("127.0.0.1:"), f"{name}: {entry}"


# --- the node's image


def dockerfile_lines() -> list[str]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_base_image_and_non_root_user() -> None:
    lines = dockerfile_lines()
    froms = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
    assert froms and froms[0].startswith("python:3.11"), froms
    users = [line.split()[1] for line in lines if line.upper().startswith("USER ")]
    assert users, "the Dockerfile has no USER line: the node would run as root"
    assert users[-1].split(":")[0] not in ("root", "0"), users[-1]


def test_dockerfile_installs_and_runs_the_node() -> None:
    lines = dockerfile_lines()
    assert any("pip install" in line and "[postgres]" in line for line in lines)
    assert any(line.startswith("VOLUME") and "/data" in line for line in lines)
    cmd = next(line for line in lines if line.startswith("CMD"))
    assert json.loads(cmd[3:]) == [
        "vecinos",
        "run",
        "--data",
        "/data",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
    ]
    for line in lines:  # no secret baked into the image
        if line.startswith(("ENV ", "ARG ")):
            assert not SECRET_NAME.search(line), line


def test_dockerignore_keeps_data_and_env_out() -> None:
    patterns = [
        p.strip()
        for p in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if p.strip() and not p.startswith("#")
    ]
    assert patterns[0] == "*", "start from nothing and re-include what the image needs"
    reincluded = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    for secret in ("data", ".env", ".venv", "deploy/synapse", "tests"):
        assert secret not in reincluded


# --- the node's entrypoint, run against this checkout's `vecinos`


def entrypoint(data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(NODE_ENTRYPOINT), "echo", "command-ran"],
        env=clean_env(
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
            VECINOS_DATA=str(data),
            VECINOS_DB_WAIT_SECONDS="0",
            **env,
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_entrypoint_inits_once_then_just_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    first = entrypoint(data)
    assert first.returncode == 2 and "VECINOS_CHAPTER" in first.stderr
    assert not any(data.iterdir())

    created = entrypoint(data, VECINOS_CHAPTER="Sur de San Diego")
    assert created.returncode == 0, created.stderr
    assert created.stdout.rstrip().endswith("command-ran")
    config = tomllib.loads((data / "vecinos.toml").read_text(encoding="utf-8"))
    assert config["chapter"]["name"] == "Sur de San Diego"
    before = (data / "vecinos.toml").read_bytes()

    again = entrypoint(data, VECINOS_CHAPTER="Another Name")
    assert again.returncode == 0, again.stderr
    assert "created chapter" not in again.stdout
    assert (data / "vecinos.toml").read_bytes() == before


def test_entrypoint_refuses_a_non_empty_dir_without_a_chapter(tmp_path: Path) -> None:
    (tmp_path / "leftover").write_text("x")
    done = entrypoint(tmp_path, VECINOS_CHAPTER="X")
    assert done.returncode == 2 and "no vecinos.toml" in done.stderr
    assert "command-ran" not in done.stdout


def test_entrypoint_writes_the_database_url_into_the_config(tmp_path: Path) -> None:
    from node.config import load_config

    data = tmp_path / "data"
    data.mkdir()
    url = 'postgresql+psycopg://vecinos:pa"ss@127.0.0.1:1/vecinos'
    done = entrypoint(data, VECINOS_CHAPTER="X", VECINOS_DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    assert 'pa"ss' not in done.stdout + done.stderr, "the password was printed"
    config = load_config(data / "vecinos.toml")
    assert config.get("storage", "database_url") == url
    assert not (data / "vecinos.db").exists()  # init's SQLite file, unused with PostgreSQL
    assert (data / "vecinos.toml").stat().st_mode & 0o077 == 0

    other = url.replace("127.0.0.1:1", "127.0.0.1:2")
    assert entrypoint(data, VECINOS_DATABASE_URL=other).returncode == 0
    assert load_config(data / "vecinos.toml").get("storage", "database_url") == other


# --- the homeserver's settings, checked by Synapse's own config parser

SYNAPSE_READ = """
import json, sys
from synapse.config.homeserver import HomeServerConfig
c = HomeServerConfig.load_config("", sys.argv[1:])
l = c.server.listeners[0]
print(json.dumps({
    "registration": c.registration.enable_registration,
    "presence": c.server.presence_enabled,
    "url_previews": c.media.url_preview_enabled,
    "retention": c.retention.retention_enabled,
    "key_servers": [k.server_name for k in c.key.key_servers],
    "public_baseurl": c.server.public_baseurl,
    "port": l.port, "bind": l.bind_addresses, "x_forwarded": l.http_options.x_forwarded,
    "database": c.database.databases[0].config["name"],
    "log_config": c.logging.log_config,
}))
"""


@pytest.fixture(scope="module")
def synapse_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("synapse") is None:
        pytest.skip("matrix-synapse is not installed (the test extra installs it)")
    home = tmp_path_factory.mktemp("synapse")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "synapse.app.homeserver",
            "--server-name",
            "chapter.example.org",
            "--report-stats",
            "no",
            "--config-path",
            str(home / "homeserver.yaml"),
            "--config-directory",
            str(home),
            "--data-directory",
            str(home),
            "--generate-config",
            "--open-private-ports",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return home


def configure(home: Path, name: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(SYNAPSE_DIR / "configure.py"),
            str(home / "homeserver.yaml"),
            str(home / name),
        ],
        env=clean_env(
            UID=str(os.getuid()), GID=str(os.getgid()), VECINOS_DB_WAIT_SECONDS="0", **env
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_synapse_accepts_the_chapter_settings(synapse_config: Path) -> None:
    done = configure(
        synapse_config,
        "runtime.yaml",
        SYNAPSE_SERVER_NAME="chapter.example.org",
        SYNAPSE_PUBLIC_BASEURL="https://matrix.chapter.example.org",
    )
    assert done.returncode == 0, done.stderr
    read = subprocess.run(
        [
            sys.executable,
            "-c",
            SYNAPSE_READ,
            "-c",
            str(synapse_config / "homeserver.yaml"),
            "-c",
            str(SYNAPSE_DIR / "vecinos.yaml"),
            "-c",
            str(synapse_config / "runtime.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout.strip().splitlines()[-1]) == {
        "registration": False,
        "presence": False,
        "url_previews": False,
        "retention": True,
        "key_servers": [],
        "public_baseurl": "https://matrix.chapter.example.org/",
        "port": 8008,
        "bind": ["0.0.0.0"],
        "x_forwarded": False,
        "database": "sqlite3",
        "log_config": "/vecinos/log.config",
    }


def test_synapse_runtime_settings_for_postgres(synapse_config: Path) -> None:
    done = configure(
        synapse_config,
        "pg.yaml",
        SYNAPSE_DATABASE="postgres",
        POSTGRES_PASSWORD=SENTINEL,
        SYNAPSE_POSTGRES_HOST="127.0.0.1",
    )
    assert done.returncode == 0, done.stderr
    assert SENTINEL not in done.stdout + done.stderr
    path = synapse_config / "pg.yaml"
    assert path.stat().st_mode & 0o077 == 0
    database = yaml.safe_load(path.read_text(encoding="utf-8"))["database"]
    assert database["name"] == "psycopg2"
    assert database["args"]["dbname"] == "synapse"
    assert database["args"]["password"] == SENTINEL


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SYNAPSE_SERVER_NAME": "other.example.org"}, "cannot change"),
        ({"SYNAPSE_DATABASE": "postgres"}, "POSTGRES_PASSWORD"),
        ({"SYNAPSE_DATABASE": "mysql"}, "sqlite or postgres"),
        ({"SYNAPSE_PUBLIC_BASEURL": "matrix.example.org"}, "must be a URL"),
    ],
)
def test_synapse_runtime_errors_say_what_to_fix(
    synapse_config: Path, env: dict[str, str], message: str
) -> None:
    done = configure(synapse_config, "bad.yaml", **env)
    assert done.returncode == 2
    assert message in done.stderr


def test_synapse_logs_no_access_lines() -> None:
    log_config = yaml.safe_load((SYNAPSE_DIR / "log.config").read_text(encoding="utf-8"))
    assert log_config["loggers"]["synapse.access"]["level"] == "WARNING"
    assert log_config["loggers"]["synapse.storage.SQL"]["level"] != "DEBUG"
    assert set(log_config["handlers"]) == {"console"}
