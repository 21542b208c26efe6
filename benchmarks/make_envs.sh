#!/usr/bin/env bash
# Separate virtual environments for peer solvers whose pins clash with ours
# (benchmarks/envs/ is git-ignored).  adelie needs numpy<2; pyscnn is installed
# without its dependency pins after torch==2.13.0, plus the modules it imports.
# Built and used on 2026-11-25 for the adelie/pyscnn rows of benchmarks/README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
envs="$here/envs"
mkdir -p "$envs"

python3 -m venv "$envs/adelie"
"$envs/adelie/bin/pip" install --quiet --only-binary=:all: "numpy<2" adelie

# --system-site-packages: the pyscnn worker imports bnconvex (installed
# editable in the main environment) to recover the gates of the patterns.
python3 -m venv --system-site-packages "$envs/pyscnn"
"$envs/pyscnn/bin/pip" install --quiet "torch==2.13.0"
"$envs/pyscnn/bin/pip" install --quiet --no-deps pyscnn linalg_backends opt_einsum tqdm
"$envs/pyscnn/bin/python" -c "import scnn.optimize"
echo "envs ready under $envs"
