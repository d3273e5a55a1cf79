#!/usr/bin/env bash
# Builds the misbehave-python test plugin with componentize-py (pinned, in a virtualenv
# under target/python/venv shared with examples/plugin-python/build.sh).
#
#   tests/plugins/misbehave-python/build.sh [OUTPUT.wasm]
#
# Default output: target/python/misbehave-python.wasm.
set -euo pipefail

COMPONENTIZE_PY_VERSION="${COMPONENTIZE_PY_VERSION:-0.25.1}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
venv="${MOAT_PY_VENV:-$root/target/python/venv}"
output="${1:-$root/target/python/misbehave-python.wasm}"

if [ ! -x "$venv/bin/componentize-py" ] \
    || [ "$("$venv/bin/componentize-py" --version)" != "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

mkdir -p "$(dirname "$output")"
"$venv/bin/componentize-py" -d "$root/wit" -w plugin componentize \
    -p "$here" -p "$root/sdk/python" app -o "$output"
echo "built $output ($(wc -c < "$output") bytes)"
