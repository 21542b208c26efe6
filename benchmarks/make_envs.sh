#!/usr/bin/env bash
# Separate virtual environments for peer solvers whose pins clash with ours
# (benchmarks/envs/ is git-ignored).  adelie needs numpy<2; pyscnn is installed
# without its dependency pins after torch==2.13.0.
# NOT exercised in the recorded results (see benchmarks/README.md): time ran out.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
envs="$here/envs"
mkdir -p "$envs"

python3 -m venv "$envs/adelie"
"$envs/adelie/bin/pip" install --quiet "numpy<2" adelie

python3 -m venv --system-site-packages "$envs/pyscnn"
"$envs/pyscnn/bin/pip" install --quiet --no-deps pyscnn
# then install whatever `python -c "import scnn"` reports missing, one by one
echo "envs ready under $envs"
