# axe-core, the accessibility engine the browser tests inject into every page (sourced by ./dev).
# Pinned from the npm registry and checked against its sha512 integrity; only axe.min.js and
# its licence are kept, in the git-ignored tests/browser/.axe/. Without npm the axe tests are
# skipped (and fail under CI=true).

AXE_VERSION=4.14.1
AXE_INTEGRITY="sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
AXE_DIR=tests/browser/.axe

ensure_axe() {
  [ -f "$AXE_DIR/axe-$AXE_VERSION.min.js" ] && return 0
  if ! command -v npm >/dev/null; then
    echo "note: no npm to fetch axe-core $AXE_VERSION: the accessibility tests will be skipped"
    return 0
  fi
  local work
  work=$(mktemp -d)
  if ! (cd "$work" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null 2>&1); then
    echo "note: could not fetch axe-core $AXE_VERSION: the accessibility tests will be skipped"
    rm -rf "$work"; return 0
  fi
  local tarball="$work/axe-core-$AXE_VERSION.tgz"
  local got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$got" != "$AXE_INTEGRITY" ]; then
    echo "axe-core $AXE_VERSION: integrity mismatch, not installed" >&2
    rm -rf "$work"; return 1
  fi
  tar -xzf "$tarball" -C "$work" package/axe.min.js package/LICENSE
  mkdir -p "$AXE_DIR"
  cp "$work/package/axe.min.js" "$AXE_DIR/axe-$AXE_VERSION.min.js"
  cp "$work/package/LICENSE" "$AXE_DIR/LICENSE"
  rm -rf "$work"
  echo "axe-core $AXE_VERSION installed in $AXE_DIR"
}
