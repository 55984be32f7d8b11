#!/usr/bin/env bash
# Run (parts of) the book at the `gpu` profile on a GPU machine that lacks the notebook tools.
#
#   scripts/gpu_book.sh [runner arguments, e.g. --only av-maskenhancer]
#
# Wheels carried in .whl/ (papermill, jupytext, ipykernel and their needs: scripts/fetch_wheels.sh) are
# installed into /tmp/site first. Results go to results/profiles/gpu/, a results tree of its own
# (executed notebooks, tables, figures, claims), which the book shows as the GPU-profile part.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD/lib"
else
    export PYTHONPATH="$PWD/lib"
fi
export PYTHONUNBUFFERED=1
exec python3 -m maskedav.book run --profile gpu --results-dir results/profiles/gpu "$@"
