#!/usr/bin/env bash
# Renders docs/architecture.dot to docs/architecture.svg (what the README shows) and
# docs/architecture.png. Needs Graphviz (`dot`); the PNG also needs rsvg-convert (librsvg2-bin),
# else `dot -Tpng` draws it. Only for changing the picture: the rendered files are committed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v dot >/dev/null; then
  echo "render-architecture: Graphviz is not installed (apt-get install graphviz, brew install graphviz)" >&2
  exit 1
fi

dot -Tsvg docs/architecture.dot -o docs/architecture.svg
if command -v rsvg-convert >/dev/null; then
  rsvg-convert --zoom 1.5 --background-color white docs/architecture.svg -o docs/architecture.png
else
  dot -Tpng -Gdpi=144 docs/architecture.dot -o docs/architecture.png
fi
echo "wrote docs/architecture.svg and docs/architecture.png"
