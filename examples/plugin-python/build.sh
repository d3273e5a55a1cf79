#!/usr/bin/env bash
# Builds the pyscore example plugin into a WebAssembly component with componentize-py.
#
#   examples/plugin-python/build.sh [OUTPUT.wasm]
#
# Needs python3 (3.9 or later, with venv) and network access to PyPI the first time.
# Makes a virtualenv under target/python/venv with a pinned componentize-py, runs the
# native unit tests, then builds the component (default: target/python/pyscore.wasm).
set -euo pipefail

COMPONENTIZE_PY_VERSION="${COMPONENTIZE_PY_VERSION:-0.25.1}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${MOAT_PY_VENV:-$root/target/python/venv}"
output="${1:-$root/target/python/pyscore.wasm}"

if [ ! -x "$venv/bin/componentize-py" ] \
    || [ "$("$venv/bin/componentize-py" --version)" != "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

# The plugin's logic and the SDK, natively, before the slow part.
(cd "$here" && PYTHONPATH="$root/sdk/python" python3 -m unittest discover -s tests -q)

mkdir -p "$(dirname "$output")"
# -d/-w: Moat's WIT package and its `plugin` world. -p: where the app module (`app`, in
# this directory) and moat_sdk are found; only these directories go into the component.
"$venv/bin/componentize-py" -d "$root/wit" -w plugin componentize \
    -p "$here" -p "$root/sdk/python" app -o "$output"
echo "built $output ($(wc -c < "$output") bytes)"
