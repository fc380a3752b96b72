# Debian's Chromium for the browser tests (sourced by ./dev).
# Playwright (a PyPI package of the test extra) drives it through
# executable_path=/usr/bin/chromium; `playwright install` is never run, so no
# browser build is downloaded. Installs the package when missing (as root,
# with apt-get); otherwise says that tests/browser will be skipped.

CHROMIUM=${VECINOS_CHROMIUM:-/usr/bin/chromium}

ensure_chromium() {
  [ -x "$CHROMIUM" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium for the browser tests"
    if ! apt-cache show chromium >/dev/null 2>&1; then
      apt-get update -qq >/dev/null || true
    fi
    DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends chromium >/dev/null \
      || echo "note: could not install chromium: the browser tests will be skipped"
  else
    echo "note: no $CHROMIUM, and no root with apt-get to install it: the browser tests will be skipped"
  fi
  return 0
}
