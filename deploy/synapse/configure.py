"""Write the homeserver's runtime settings from the environment (run by start.sh).

usage: configure.py HOMESERVER_YAML RUNTIME_YAML

- Refuses to start when SYNAPSE_SERVER_NAME differs from the server_name the
  config was generated with (a server name can never change).
- public_baseurl from SYNAPSE_PUBLIC_BASEURL, when set.
- SYNAPSE_DATABASE=postgres: the `synapse` database of the compose file's
  postgres service, with POSTGRES_PASSWORD; waits for it to accept connections.
The runtime file holds the database password: it lives in /tmp of the
container (never in a volume), readable by the Synapse user only.
"""

from __future__ import annotations

import os
import socket
import sys
import time

import yaml

WAIT_SECONDS = int(os.environ.get("VECINOS_DB_WAIT_SECONDS", "60"))
SYNAPSE_UID = int(os.environ.get("UID", "991"))
SYNAPSE_GID = int(os.environ.get("GID", "991"))


def fail(message: str) -> None:
    print(f"homeserver: {message}", file=sys.stderr)
    sys.exit(2)


def wait_for(host: str, port: int, seconds: int) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host, port), timeout=2).close()
            return
        except OSError:
            if time.monotonic() >= deadline:
                print(
                    f"homeserver: {host}:{port} does not answer yet; starting anyway",
                    file=sys.stderr,
                )
                return
            time.sleep(1)


def runtime_settings(generated: dict, env: dict[str, str]) -> dict:
    name = env.get("SYNAPSE_SERVER_NAME", "")
    if name and name != generated.get("server_name"):
        fail(
            f"SYNAPSE_SERVER_NAME is {name!r} but this homeserver was created as "
            f"{generated.get('server_name')!r}; a server name cannot change: set it back in .env"
        )
    settings: dict = {}
    baseurl = env.get("SYNAPSE_PUBLIC_BASEURL", "")
    if baseurl:
        if not baseurl.startswith(("https://", "http://")):
            fail("SYNAPSE_PUBLIC_BASEURL must be a URL, e.g. https://matrix.example.org/")
        settings["public_baseurl"] = baseurl if baseurl.endswith("/") else baseurl + "/"
    database = env.get("SYNAPSE_DATABASE", "sqlite") or "sqlite"
    if database == "postgres":
        if not env.get("POSTGRES_PASSWORD"):
            fail("SYNAPSE_DATABASE=postgres needs POSTGRES_PASSWORD in .env")
        settings["database"] = {
            "name": "psycopg2",
            "args": {
                "user": "vecinos",
                "password": env["POSTGRES_PASSWORD"],
                "dbname": "synapse",
                "host": env.get("SYNAPSE_POSTGRES_HOST", "postgres"),
                "port": 5432,
                "cp_min": 1,
                "cp_max": 5,
            },
        }
    elif database != "sqlite":
        fail(f"SYNAPSE_DATABASE must be sqlite or postgres, got {database!r}")
    return settings


def main(argv: list[str]) -> None:
    generated_path, runtime_path = argv[1], argv[2]
    with open(generated_path, encoding="utf-8") as handle:
        generated = yaml.safe_load(handle) or {}
    settings = runtime_settings(generated, dict(os.environ))
    fd = os.open(runtime_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# written by /vecinos/configure.py at each start\n")
        yaml.safe_dump(settings, handle, default_flow_style=False)
    if os.getuid() == 0:
        os.chown(runtime_path, SYNAPSE_UID, SYNAPSE_GID)
    if "database" in settings:
        args = settings["database"]["args"]
        wait_for(args["host"], args["port"], WAIT_SECONDS)


if __name__ == "__main__":
    main(sys.argv)
