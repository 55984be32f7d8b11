#!/usr/bin/env bash
# Fetch into .whl/ (git-ignored) the wheels that scripts/gpu_book.sh installs on a GPU machine: Python 3.12
# on Linux x86-64 whose image has torch, timm, numpy, pandas, scipy, matplotlib and many more, but not the
# notebook tools. Versions are pyproject.toml's pins; whatever the image already holds is dropped (the
# device's package list, KINDS.md as read on 2026-11-17), which keeps .whl near 15 MiB: the working tree
# and what a run carries must stay under 64 MiB together. Pass .whl in the run's carry.
#
#   scripts/fetch_wheels.sh            # run here, where PyPI is reachable
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
pins=$("$PY" - <<'PYEOF'
import re
import tomllib

deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
want = {"scipy", "tabulate", "tqdm", "pyyaml", "papermill", "jupytext", "nbformat", "nbclient", "ipykernel"}
print(" ".join(d.split(";")[0].strip() for d in deps if re.split(r"[=<>~!; ]", d)[0].lower() in want))
PYEOF
)
rm -rf .whl && mkdir -p .whl
"$PY" -m pip download -q --disable-pip-version-check --only-binary=:all: --python-version 3.12 \
    --implementation cp --abi cp312 --abi abi3 --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any --dest .whl $pins
# what the machine's image holds already (and what its torch was built with): never shadow it
for pkg in numpy pandas scipy matplotlib seaborn torch torchvision torchaudio timm pillow contourpy cycler \
           fonttools kiwisolver pyparsing python_dateutil pytz tzdata six packaging tabulate tqdm pyyaml requests \
           urllib3 idna certifi charset_normalizer psutil pygments attrs click markdown_it_py mdurl \
           typing_extensions; do
    rm -f .whl/"$pkg"-*.whl
done
echo "$(ls .whl/*.whl | wc -l) wheels, $(du -sh .whl | cut -f1) in .whl/"
