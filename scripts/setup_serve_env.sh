#!/usr/bin/env bash
# A separate environment for the real Triton Inference Server check (tests/serve/test_triton_server.py).
# NVIDIA's PyTriton bundles tritonserver but pins numpy < 2, so it cannot share the main environment.
# Usage: bash scripts/setup_serve_env.sh [VENV_DIR]   then   export SE_DEPLOY_SERVE_PYTHON=VENV_DIR/bin/python
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv-serve}"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/pip" install --quiet torch==2.13.0
"$venv/bin/pip" install --quiet -e . "nvidia-pytriton==0.7.*" "tritonclient[grpc,http]>=2.40"
echo "serve environment ready: export SE_DEPLOY_SERVE_PYTHON=$(cd "$venv" && pwd)/bin/python"
