#!/bin/sh
# Entrypoint of the node container (installed as /usr/local/bin/vecinos-entrypoint).
#   - First start (an empty /data): `vecinos init`, with the chapter's name
#     from VECINOS_CHAPTER.
#   - VECINOS_DATABASE_URL set: written to [storage] database_url of
#     /data/vecinos.toml (the config stays the one source of truth, for
#     `vecinos run` and for `docker compose exec node vecinos ...` alike),
#     then wait for that database to accept connections.
#   - Then run the command: `vecinos run --data /data --host 0.0.0.0 --port 8080`.
set -eu
DATA=${VECINOS_DATA:-/data}
fresh=0

if [ ! -f "$DATA/vecinos.toml" ]; then
  if [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
    echo "vecinos: $DATA holds files but no vecinos.toml: restore the whole data dir from your backup, or remove the node-data volume to start over" >&2
    exit 2
  fi
  if [ -z "${VECINOS_CHAPTER:-}" ]; then
    echo "vecinos: first start: set VECINOS_CHAPTER (the chapter's name) in .env" >&2
    exit 2
  fi
  vecinos init --data "$DATA" --chapter "$VECINOS_CHAPTER"
  fresh=1
fi

if [ -n "${VECINOS_DATABASE_URL:-}" ]; then
  python - "$DATA" "$fresh" <<'PY'
"""Set [storage] database_url from VECINOS_DATABASE_URL; never print the URL (a password)."""
import json
import os
import re
import socket
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

data, fresh = Path(sys.argv[1]), sys.argv[2] == "1"
url = os.environ["VECINOS_DATABASE_URL"]
if not url.startswith(("postgresql", "sqlite")):
    sys.exit("vecinos: VECINOS_DATABASE_URL must start with postgresql+psycopg:// (or sqlite://)")
path = data / "vecinos.toml"
text = path.read_text(encoding="utf-8")
if tomllib.loads(text).get("storage", {}).get("database_url", "") != url:
    line = f"database_url = {json.dumps(url)}\n"  # a JSON string is a TOML basic string
    lines = text.splitlines(keepends=True)
    start = next((i for i, s in enumerate(lines) if s.strip() == "[storage]"), None)
    if start is None:
        lines += ["\n[storage]\n", line]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
                   len(lines))
        key = re.compile(r"^\s*#?\s*database_url\s*=")
        at = next((i for i in range(start + 1, end) if key.match(lines[i])), None)
        if at is None:
            lines.insert(start + 1, line)
        else:
            lines[at] = line
    new = "".join(lines)
    if tomllib.loads(new)["storage"]["database_url"] != url:
        sys.exit(f"vecinos: could not set [storage] database_url in {path}")
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new)
    os.replace(tmp, path)
    print(f"vecinos: [storage] database_url set from VECINOS_DATABASE_URL in {path}", flush=True)
if fresh and url.startswith("postgresql"):
    for name in ("vecinos.db", "vecinos.db-wal", "vecinos.db-shm"):  # init's unused SQLite file
        (data / name).unlink(missing_ok=True)
parts = urlsplit(url)
if parts.hostname:
    deadline = time.monotonic() + int(os.environ.get("VECINOS_DB_WAIT_SECONDS", "60"))
    while True:
        try:
            socket.create_connection((parts.hostname, parts.port or 5432), timeout=2).close()
            break
        except OSError:
            if time.monotonic() >= deadline:
                print(f"vecinos: database at {parts.hostname} does not answer yet", flush=True)
                break
            time.sleep(1)
PY
fi

exec "$@"
