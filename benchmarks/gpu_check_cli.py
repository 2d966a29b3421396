"""CUDA check of the `influence-nb run` pipeline: every stage runs with `--device cuda`, and the score files, LDS table
and label-noise detection agree with the same run on the CPU (float64). Exits 1 on a mismatch.

    PYTHONPATH=. python3 benchmarks/gpu_check_cli.py [OUT_DIR]
"""
import sys, tempfile, time
from pathlib import Path
import numpy as np
import torch
from influence_nb.cli import main
from influence_nb.io import load_scores, read_json
from influence_nb.registry import METHODS, load_builtins

assert torch.cuda.is_available(), "no CUDA"
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
small = ["--n-train", "600", "--n-test", "100", "--epochs", "10", "--n-targets", "8", "--lds-p", "0.05,0.5", "--lds-m", "16",
         "--loo-targets", "1", "--top-k", "5", "--no-progress", "--log-level", "warning"]
runs, ok = {}, True
for dev in ("cpu", "cuda"):
    t0 = time.time()
    rc = main(["run", "--out", str(out/dev), "--device", dev, *small])
    assert rc == 0, f"run on {dev} failed with status {rc}"
    runs[dev] = next((out/dev).iterdir()); print(f"{dev}: run in {time.time() - t0:.1f}s")
def rel(a, b): return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))
load_builtins()
for m in METHODS:
    if not (runs["cpu"]/"scores"/f"{m}.npz").exists(): continue
    a, b = (load_scores(runs[d]/"scores"/f"{m}.npz")["scores"] for d in ("cuda", "cpu"))
    r = rel(a, b); ok &= r < 1e-6; print(f"{m}: scores cuda vs cpu, relative difference {r:.2e}")
la, lb = (read_json(runs[d]/"lds"/"table.json")["rows"] for d in ("cuda", "cpu"))
for x, y in zip(la, lb):
    print(f"LDS {x['method']:>7} p={x['p']}: cuda {x['lds']:.4f}  cpu {y['lds']:.4f}"); ok &= abs(x["lds"] - y["lds"]) < 0.02
da, db = (read_json(runs[d]/"debug"/"detection.json")["rows"] for d in ("cuda", "cpu"))
for x, y in zip(da, db):
    print(f"debug {x['method']:>7}: top20 cuda {x['found_top20']:.3f} cpu {y['found_top20']:.3f}"); ok &= abs(x["found_top20"] - y["found_top20"]) < 0.05
assert (runs["cuda"]/"report"/"report.html").exists()
print("OK" if ok else "MISMATCH"); sys.exit(0 if ok else 1)
