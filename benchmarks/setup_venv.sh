#!/usr/bin/env bash
# Create the benchmark venv (.bench-venv): influence_nb plus the peer libraries we compare against.
# Peers are never runtime dependencies of influence_nb; they live only here.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .bench-venv
. .bench-venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
python -m pip install -q -e . captum pytorch-influence-functions
# issue-era peers for the baseline table (TRAK, EK-FAC / K-FAC, Arnoldi)
python -m pip install -q kronfluence dattri traker || echo "some peers failed to install; see above"
echo "benchmark venv ready: . .bench-venv/bin/activate"
