"""Koh & Liang's Fig. 2 check on real MNIST (55k train, multinomial logistic regression, 7850 parameters, float64):
exact influence (closed-form Hessian, Cholesky) for N test points, leave-one-out retraining of each point's top-K
training examples by |score| (Newton iterations on the shared Hessian factor, to max|grad| <= 1e-11), Pearson r of
predicted vs actual change per test point. Writes benchmarks/results/mnist_loo.md; exits 1 if the mean r < 0.95.

    python benchmarks/mnist_loo.py [MNIST_DIR] [--n-test 10] [--top 50] [--device cpu] [--threads 2]

MNIST_DIR defaults to ../shared/data/mnist (influence_nb.data.shared_data_dir()).
"""
import argparse, json, sys, tempfile, time
from pathlib import Path
import numpy as np, torch
from influence_nb.data import load_mnist, shared_data_dir
from influence_nb.models import ModelConfig
from influence_nb.train import OptimConfig, RunConfig, TrainConfig, train
from influence_nb.influence import if_scores, make_solver
from influence_nb.loo import loo_compare, loo_retrain, newton_retrain

ap = argparse.ArgumentParser()
ap.add_argument("mnist", nargs="?"); ap.add_argument("--n-test", type=int, default=10); ap.add_argument("--top", type=int, default=50)
ap.add_argument("--device", default="cpu"); ap.add_argument("--threads", type=int, default=None); ap.add_argument("--out", default=None)
a = ap.parse_args()
if a.threads: torch.set_num_threads(a.threads)
mn = Path(a.mnist) if a.mnist else (shared_data_dir() / "mnist" if shared_data_dir() else None)
if mn is None or not mn.exists(): print(f"SKIP: no MNIST folder ({mn})"); sys.exit(0)
T = {}; t0 = time.time()
dm = load_mnist(mn, n_train=55000, n_test=1000, dtype=torch.float64)
cfg = RunConfig(model=ModelConfig(name="logreg"), optim=OptimConfig(weight_decay=1e-3),
                train=TrainConfig(trainer="lbfgs", lbfgs_tol=1e-9, epochs=3, device=a.device))
res = train(cfg, dm, progress=False); T["train (L-BFGS)"] = time.time() - t0
acc = float((res.model(dm.test.x.to(res.state.params["linear.weight"].device)).argmax(1).cpu() == dm.test.y).double().mean())
print(f"trained in {T['train (L-BFGS)']:.0f}s, test accuracy {acc:.4f}", flush=True)
t = time.time(); sv = make_solver(res, dm, "exact", progress=True); T["exact Hessian + spectrum + Cholesky"] = time.time() - t
print(f"solver in {T['exact Hessian + spectrum + Cholesky']:.0f}s: {sv.info}", flush=True)
tests = list(range(a.n_test))
t = time.time(); S = if_scores(res, dm, tests, solver_obj=sv, progress=False); T[f"IF scores, {a.n_test} test points x 55k"] = time.time() - t
print(f"IF in {time.time() - t:.0f}s", flush=True)
rows, t = [], time.time()
with tempfile.TemporaryDirectory() as d:
    for j in tests:
        ids = S[j].abs().argsort(descending=True)[:a.top].tolist(); tj = time.time()
        loo = loo_retrain(res, dm, j, ids, f"{d}/m{j}.jsonl", method="newton", solver_obj=sv, tol=1e-11, progress=False)
        _, pred, act, r = loo_compare(S[j], loo)
        rows.append(dict(test=j, label=int(dm.test.y[j]), pearson=r, max_change=float(np.abs(act).max()), seconds=time.time() - tj))
        print(f"test point {j}: Pearson {r:.4f} ({time.time() - tj:.0f}s)", flush=True)
T[f"LOO, {a.n_test} x {a.top + 1} Newton retrains"] = time.time() - t
w = torch.ones(len(dm.train), dtype=torch.float64); w[ids[0]] = 0
_, iters, gmax = newton_retrain(res, dm, w, sv, 1e-11)
pm = [r["pearson"] for r in rows]
lines = ["# MNIST 55k: influence vs leave-one-out (Koh & Liang Fig. 2)", "",
         f"torch {torch.__version__}, device {a.device}, {torch.get_num_threads()} threads, float64; logistic regression, L2 λ = 1e-3, "
         f"test accuracy {acc:.4f}; exact IF (closed-form Hessian, λ_min {sv.lam_min:.3g}, λ_max {sv.lam_max:.3g}); "
         f"LOO by `loo_retrain(method='newton')` to max|∇F| ≤ 1e-11 (one retrain: {iters} iterations, final max|∇F| {gmax:.1e}).", "",
         "| test point | label | Pearson r (top-%d) | largest actual change (abs) | seconds |" % a.top, "|---|---|---|---|---|"]
lines += [f"| {r['test']} | {r['label']} | {r['pearson']:.4f} | {r['max_change']:.2e} | {r['seconds']:.0f} |" for r in rows]
lines += ["", f"**Mean Pearson {np.mean(pm):.4f}** (min {np.min(pm):.4f}).", "", "| stage | seconds |", "|---|---|"]
lines += [f"| {k} | {v:.0f} |" for k, v in T.items()] + [f"| total | {time.time() - t0:.0f} |"]
text = "\n".join(lines) + "\n"; print(text)
out = Path(a.out) if a.out else Path(__file__).resolve().parent / "results" / "mnist_loo.md"
out.parent.mkdir(exist_ok=True); out.write_text(text)
sys.exit(0 if np.mean(pm) >= 0.95 else 1)
