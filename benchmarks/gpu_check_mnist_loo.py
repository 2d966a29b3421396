"""Koh & Liang's Fig. 2 check on real MNIST (55k train, logistic regression, 7850 parameters, float64), the slow cell of
`nbs/07_loo.ipynb` with a device argument: CG s_test, 5 test points x top-20 by |score| retrained by warm-started
L-BFGS, Pearson of IF vs LOO per test point. Exits 1 if the mean Pearson is below 0.95.

    PYTHONPATH=. python3 benchmarks/gpu_check_mnist_loo.py MNIST_DIR [cuda|cpu]

Status (2026-11-24, H100, float64): L-BFGS training took 186 s, the CG influence scores 49 s, and the first test
point's 20 warm-started retrains had not finished 5 minutes later (the run was stopped at the 10-minute limit of the
device machine): this check is still NOT verified to completion. It needs a longer run (about 20-30 minutes on a GPU).
"""
import sys, tempfile, time
import numpy as np, torch
from influence_nb.data import load_mnist
from influence_nb.models import ModelConfig
from influence_nb.train import OptimConfig, RunConfig, TrainConfig, train
from influence_nb.influence import if_scores
from influence_nb.loo import loo_compare, loo_retrain

mn, dev = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "cuda")
t0 = time.time()
dm = load_mnist(mn, n_train=55000, n_test=1000, dtype=torch.float64)
cfg = RunConfig(model=ModelConfig(name="logreg"), optim=OptimConfig(weight_decay=1e-3),
                train=TrainConfig(trainer="lbfgs", lbfgs_tol=1e-9, epochs=3, device=dev))
res = train(cfg, dm, progress=False); print(f"trained in {time.time() - t0:.1f}s", flush=True)
S = if_scores(res, dm, list(range(5)), solver="cg", progress=False, tol=1e-10); print(f"IF in {time.time() - t0:.1f}s", flush=True)
pm = []
with tempfile.TemporaryDirectory() as d:
    for j in range(5):
        ids = S[j].abs().argsort(descending=True)[:20].tolist()
        pm.append(loo_compare(S[j], loo_retrain(res, dm, j, ids, f"{d}/m{j}.jsonl", tol=1e-10, progress=False))[3])
        print(f"test point {j}: Pearson {pm[-1]:.4f} ({time.time() - t0:.0f}s)", flush=True)
print(f"MNIST 55k ({dev}): Pearson per test point {np.round(pm, 4).tolist()}, mean {np.mean(pm):.4f}; total {time.time() - t0:.0f}s")
sys.exit(0 if np.mean(pm) >= 0.95 else 1)
