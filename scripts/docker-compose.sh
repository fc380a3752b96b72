# Debian's docker-compose (v1) for the compose-file test (sourced by ./dev).
# `docker-compose -f FILE config` validates and renders a compose file without
# a Docker engine. Installs it when missing (as root, with apt-get); otherwise
# says that tests/deploy/test_compose.py will skip its compose checks.

ensure_docker_compose() {
  command -v docker-compose >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's docker-compose for the compose-file test"
    if ! apt-cache show docker-compose >/dev/null 2>&1; then
      apt-get update -qq >/dev/null || true
    fi
    DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends docker-compose >/dev/null \
      || echo "note: could not install docker-compose: the compose test will be skipped"
  else
    echo "note: no docker-compose, and no root with apt-get to install it: the compose test will be skipped"
  fi
  return 0
}
