#!/usr/bin/env bash
# Run (parts of) the book at the `gpu` profile on a GPU machine that lacks the notebook tools.
#
#   scripts/gpu_book.sh [runner arguments, e.g. --only av-maskenhancer]
#
# Wheels carried in .whl/ (papermill, jupytext, ipykernel and their needs: scripts/fetch_wheels.sh) are
# installed into /tmp/site first. Results go to results/profiles/gpu/, a results tree of its own
# (executed notebooks, tables, figures, claims), which the book shows as the GPU-profile part. Under the
# device tool ($OUT set) the tree is also packed into $OUT/gpu-results.tar.gz, to unpack here with
# `tar -xzf <files_at>/gpu-results.tar.gz` in the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD/lib"
else
    export PYTHONPATH="$PWD/lib"
fi
export PYTHONUNBUFFERED=1
rc=0
python3 -m maskedav.book run --profile gpu --results-dir results/profiles/gpu "$@" || rc=$?
# on the device machine: the gpu tree comes back as one archive (also after a failure: what ran is kept)
if [ -n "${OUT:-}" ]; then
    tar -czf "$OUT/gpu-results.tar.gz" results/profiles/gpu
fi
exit $rc
