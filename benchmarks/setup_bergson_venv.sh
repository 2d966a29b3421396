#!/usr/bin/env bash
# Create the Bergson venv (.bergson-venv): influence_nb[hf] next to Bergson 2.5.1 on a CPU build of torch.
# Bergson is never a dependency of influence_nb; it lives only here (benchmarks/bench_bergson.py).
# Bergson pulls torchvision / torchaudio built against CUDA torch; with a CPU torch their compiled operators fail
# to register and `import transformers` breaks, and Bergson does not need them, so they are removed afterwards.
# Usage: bash benchmarks/setup_bergson_venv.sh [TORCH_CPU_SPEC]   (default: torch==2.13.0+cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_SPEC="${1:-torch==2.13.0+cpu}"
python3 -m venv .bergson-venv
. .bergson-venv/bin/activate
python -m pip install -q --upgrade pip
# the CPU wheel: from a local wheel folder (PIP_FIND_LINKS / pip.conf find-links) or, with
# TORCH_INDEX=https://download.pytorch.org/whl/cpu, from PyTorch's CPU index
python -m pip install -q "$TORCH_SPEC" ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"}
CONSTRAINTS="$(mktemp)"
echo "$TORCH_SPEC" > "$CONSTRAINTS"
python -m pip install -q -c "$CONSTRAINTS" "bergson==2.5.1" "transformers>=5.0"
python -m pip install -q -c "$CONSTRAINTS" -e ".[hf]"
rm -f "$CONSTRAINTS"
python -m pip uninstall -y -q torchvision torchaudio || true
python - <<'PY'
import torch, transformers, bergson.magic  # noqa: F401  (fails loudly if the venv is broken)
print(f"torch {torch.__version__} (cuda: {torch.version.cuda}), transformers {transformers.__version__}, bergson ok")
PY
echo "bergson venv ready: . .bergson-venv/bin/activate"
