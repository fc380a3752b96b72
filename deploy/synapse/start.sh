#!/bin/sh
# Entrypoint of the homeserver container (matrixdotorg/synapse), mounted
# read-only at /vecinos by docker-compose.yml.
#   1. First start: generate /data/homeserver.yaml, secrets and signing key
#      for SYNAPSE_SERVER_NAME (the image's own `generate`).
#   2. Every start: write /tmp/vecinos-runtime.yaml from the environment
#      (configure.py), then run Synapse with
#      homeserver.yaml < vecinos.yaml < vecinos-runtime.yaml (later wins).
set -eu

if [ ! -f /data/homeserver.yaml ]; then
  if [ -z "${SYNAPSE_SERVER_NAME:-}" ]; then
    echo "homeserver: first start: set SYNAPSE_SERVER_NAME in .env (the domain of your Matrix IDs; it cannot change later)" >&2
    exit 2
  fi
  SYNAPSE_REPORT_STATS=no /start.py generate
fi

python /vecinos/configure.py /data/homeserver.yaml /tmp/vecinos-runtime.yaml

exec /start.py run \
  --config-path /data/homeserver.yaml \
  --config-path /vecinos/vecinos.yaml \
  --config-path /tmp/vecinos-runtime.yaml
