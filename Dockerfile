# The Vecinos node: one chapter's web app, scheduler and Matrix bot.
# Built by docker-compose.yml (docs/deploy.md). No secret is baked in: the
# chapter's keys and config are created in the /data volume at first start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/vecinos/bin:$PATH \
    VECINOS_DATA=/data

# The user the node runs as; it owns /data and nothing else.
RUN groupadd --system --gid 10001 vecinos \
 && useradd --system --uid 10001 --gid vecinos --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin vecinos

# The project and its PostgreSQL driver, in a venv owned by root (read-only to the node).
COPY pyproject.toml README.md /src/
COPY node /src/node
COPY scoring /src/scoring
COPY federation /src/federation
COPY web /src/web
RUN python -m venv /opt/vecinos \
 && /opt/vecinos/bin/pip install "/src[postgres]" \
 && /opt/vecinos/bin/python -m web.vendor \
 && rm -rf /src

COPY deploy/node/entrypoint.sh /usr/local/bin/vecinos-entrypoint
RUN chmod 0755 /usr/local/bin/vecinos-entrypoint \
 && mkdir -m 0700 /data && chown vecinos:vecinos /data

USER vecinos
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v1/areas', timeout=4)"]

ENTRYPOINT ["vecinos-entrypoint"]
CMD ["vecinos", "run", "--data", "/data", "--host", "0.0.0.0", "--port", "8080"]
