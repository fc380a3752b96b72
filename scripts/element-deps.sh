# Element's own crypto for the Element-stack tests (sourced by ./dev).
# tests/element/package.json pins matrix-js-sdk (with its Rust crypto,
# @matrix-org/matrix-sdk-crypto-wasm); package-lock.json pins every package
# and its hash. `npm ci` installs exactly that from the npm registry, once
# per lock file. Node 20 is enough (the SDK asks for 22; tests/element/member.mjs
# adds the one missing function). Without node/npm the tests are skipped, and
# this says so (under CI=true the tests fail instead).

ELEMENT_DIR=tests/element

ensure_element_deps() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "note: no node/npm: the Element-stack tests (tests/element) will be skipped"
    return 0
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then
    echo "note: node $major is older than 20: the Element-stack tests will be skipped"
    return 0
  fi
  local stamp
  stamp="$ELEMENT_DIR/node_modules/.installed-$(sha256sum "$ELEMENT_DIR/package-lock.json" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  echo "installing the Element-stack tests' packages (npm ci, pinned by $ELEMENT_DIR/package-lock.json)"
  if (cd "$ELEMENT_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    touch "$stamp"
  else
    echo "note: npm ci failed: the Element-stack tests will be skipped"
  fi
  return 0
}
