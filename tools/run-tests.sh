#!/usr/bin/env bash
# The README's test command, and what .ci/run runs: install, the whole suite
# with OpenBLAS as this machine is configured, then the solver and certificate
# tests once more on a different OpenBLAS kernel, so that an assertion that
# holds on one BLAS kernel only fails here, not on a user's machine.
#
# The second kernel: where the environment pins one (OPENBLAS_CORETYPE, as some
# machines do), the processor's own kernel, with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset together; otherwise Haswell, or SandyBridge when the
# processor's own kernel is Haswell already.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-system-packages.sh
python -m pip install -q -e ".[test,torch]"
python -m pytest
solver_tests=(tests/numerics/core tests/numerics/test_solvers.py
              tests/numerics/test_working_set.py tests/app/test_certify_optimum.py)
kernel() {  # the OpenBLAS kernel numpy runs in this environment
  python -c 'import numpy, threadpoolctl
print(next((i.get("architecture") or "?" for i in threadpoolctl.threadpool_info()
            if i["internal_api"] == "openblas"), "none"))'
}
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
  second=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
else
  other=Haswell
  [ "$(kernel)" = Haswell ] && other=SandyBridge
  second=(env OPENBLAS_CORETYPE="$other")
fi
echo "second run: OpenBLAS $(kernel) -> $("${second[@]}" bash -c "$(declare -f kernel); kernel")"
"${second[@]}" python -m pytest -q "${solver_tests[@]}"
