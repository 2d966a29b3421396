"""Arnoldi IF (influence_nb's `arnoldi` solver) against dattri's `IFAttributorArnoldi` on digits.

Same trained models and the same Hessian for both: the mean cross-entropy Hessian over the 1500 training examples
plus (L2 λ + damping)·I (dattri's `regularization`), float64, one torch thread, CPU. Two models: multinomial
logistic regression (650 parameters, L-BFGS, λ = 0.01, damping 0) and the package's default digits MLP (4,810
parameters, SGD, λ = 1e-4; indefinite, so damping = 2|λ_min| of the exact spectrum for both libraries). For each
(rank, Arnoldi steps) both compute scores for 16 test points × all training examples; they are compared after
reconciling sign and scale (dattri's scores are `g_trainᵀ H_r⁻¹ g_test`, ours
`(1/n) g_testᵀ H_r⁻¹ g_train`: the least-squares factor is reported as `c·n`, expected 1), with the Pearson
correlation and the relative error, and each is compared with the exact influence function. Times are
wall-clock, side by side.

Run with the benchmark venv:  .bench-venv/bin/python benchmarks/bench_arnoldi.py [--quick]
Writes benchmarks/results/arnoldi.md.
"""
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.func import functional_call
from torch.utils.data import DataLoader, TensorDataset

torch.set_num_threads(1)
from influence_nb.data import DataConfig, load_data  # noqa: E402
from influence_nb.influence import Objective, Solver, hvp_spectrum, if_scores  # noqa: E402
from influence_nb.models import ModelConfig  # noqa: E402
from influence_nb.train import OptimConfig, RunConfig, TrainConfig, train  # noqa: E402

ROOT = Path(__file__).resolve().parent
QUICK = "--quick" in sys.argv
TARGETS = list(range(16))


def models(ds):
    "The two trained runs: (name, result, extra damping)."
    lr = train(RunConfig(model=ModelConfig(name="logreg"), optim=OptimConfig(weight_decay=1e-2),
                         train=TrainConfig(trainer="lbfgs")), ds, progress=False)
    out = [("logistic regression (P = 650)", lr, 0.0)]
    if not QUICK:
        mlp = train(RunConfig(), ds, progress=False)
        ex = Solver(Objective(mlp, ds), "exact")  # damping=None: 2|λ_min| from the exact spectrum
        out.append((f"digits MLP (P = {ex.obj.P:,})", mlp, ex.damping))
    return out


def ours(res, ds, damping, rank, n_iters):
    "Our Arnoldi scores `[K, n]`, seconds for the Arnoldi solver + scores, the definiteness check's seconds."
    obj = Objective(res, ds)
    t0 = time.perf_counter()
    if not obj.convex: hvp_spectrum(obj)  # the check of λ_min + damping > 0 (Lanczos, once per Hessian)
    t1 = time.perf_counter()
    sv = Solver(obj, "arnoldi", damping, rank=rank, n_iters=n_iters, seed=0)
    S = if_scores(res, ds, TARGETS, solver_obj=sv, progress=False)
    return S, time.perf_counter() - t1, t1 - t0, sv.impl.eigenvalues


def dattri_scores(res, ds, reg, rank, n_iters):
    "dattri's Arnoldi scores `[n, K]`, seconds, its kept eigenvalues (default dtype float64: see the notes)."
    from dattri.algorithm.influence_function import IFAttributorArnoldi
    from dattri.task import AttributionTask
    model, shape = res.model, ds.train.x.shape[1:]

    def loss(params, data):  # one example (per-example gradients) or the whole batch (its Hessian)
        x, y = data
        return F.cross_entropy(functional_call(model, params, (x.reshape(-1, *shape),)), y.reshape(-1))

    task = AttributionTask(loss_func=loss, model=model, checkpoints=model.state_dict())
    train_dl = DataLoader(TensorDataset(ds.train.x, ds.train.y), batch_size=len(ds.train))
    test_dl = DataLoader(TensorDataset(ds.test.x[TARGETS], ds.test.y[TARGETS]), batch_size=len(TARGETS))
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            att = IFAttributorArnoldi(task, device="cpu", proj_dim=rank, max_iter=n_iters + 1, regularization=reg,
                                      seed=0)
            att.cache(train_dl)
            D = att.attribute(train_dl, test_dl)
            sec = time.perf_counter() - t0
    finally: torch.set_default_dtype(old)
    proj = att.arnoldi_projectors[0].__closure__[0].cell_contents  # dattri keeps its ArnoldiProjector in a closure
    return D.detach().double(), sec, proj.eigvals.detach().double()  # of H_data + regularization·I


def pearson(a, b): return torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1].item()


def per_target(a, b): return sum(pearson(x, y) for x, y in zip(a, b)) / len(a)


def main():
    ds = load_data(DataConfig(), torch.float64)
    configs = [(20, 40), (20, 200)] if QUICK else [(20, 40), (20, 200), (100, 200), (100, 400)]
    lines = ["# Arnoldi IF vs dattri", "",
             "Digits (1500 train, 16 test points × 1500 train scores), float64, one torch thread, CPU;",
             f"`bench_arnoldi.py`{' --quick' if QUICK else ''} (run with the benchmark venv). dattri "
             "`IFAttributorArnoldi` with `proj_dim` = rank, `max_iter` = steps + 1 (it makes `max_iter − 1` HVPs),",
             "`regularization` = L2 λ + damping; ours `solver='arnoldi'` with `rank`, `n_iters` = steps, seed 0.", ""]
    for name, res, damping in models(ds):
        n, l2 = len(ds.train), float(res.config.optim.weight_decay)
        exact = if_scores(res, ds, TARGETS, solver="exact", damping=damping, progress=False)
        lines += [f"## {name}, damping {damping:.4g} (L2 λ = {l2:g})", "",
                  "| rank | steps | c·n | Pearson ours–dattri | rel. err | per-target Pearson | top-10 eigenvalues "
                  "max rel. diff | Pearson vs exact: ours / dattri | ours (s) | + λ_min check (s) | dattri (s) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for rank, steps in configs:
            S, t_ours, t_check, ev = ours(res, ds, damping, rank, steps)
            D, t_d, ev_d = dattri_scores(res, ds, l2 + damping, rank, steps)
            D = D.T
            c = ((S * D).sum() / (D * D).sum()).item()
            rel = ((S - c * D).norm() / S.norm()).item()
            k = min(10, len(ev), len(ev_d))
            e1 = (ev + damping).sort(descending=True).values[:k]  # ours: of H (L2 included) + damping
            e2 = ev_d.sort(descending=True).values[:k]
            ev_diff = ((e1 - e2).abs() / e1.abs()).max().item()
            row = (f"| {rank} | {steps} | {c * n:.4f} | {pearson(S, D):.6f} | {rel:.2e} | {per_target(S, D):.4f} | "
                   f"{ev_diff:.1e} | {pearson(S, exact):.3f} / {pearson(D, exact):.3f} | {t_ours:.2f} | "
                   f"{t_check:.2f} | {t_d:.2f} |")
            lines.append(row)
            print(name, row, flush=True)
        lines.append("")
    lines += ["Notes: `c` is the least-squares factor with `ours ≈ c · dattriᵀ`; its sign reconciles the",
              "conventions",
              "(positive: both call a helpful example positive) and `c·n = 1` means the only difference is our 1/n.",
              "Both libraries keep the top eigenpairs by |eigenvalue| of the Krylov projection and invert",
              "`(θ + λ + damping)` there; they differ in the start vector (ours: a seeded normal vector; dattri:",
              "`torch.rand` under `torch.manual_seed`), in orthogonalization (ours: classical Gram-Schmidt twice, with",
              "a restart on breakdown; dattri: one modified Gram-Schmidt pass, stopping on breakdown) and in dattri",
              "dropping non-positive eigenvalues. With few steps the lower Ritz pairs of the kept subspace are not",
              "converged and depend on the start vector, so the two disagree; with enough steps both converge to the",
              "same top eigenspace and agree. dattri draws its start vector and allocates its score matrix in the",
              "default dtype: with a float64 model it fails (`expected m1 and m2 to have the same dtype`) unless",
              "`torch.set_default_dtype(torch.float64)`, which this benchmark sets around its calls. Times: ours is",
              "the Arnoldi iteration plus `if_scores` (per-example gradients vmapped in chunks); on the non-convex MLP",
              "our solver also checks λ_min + damping > 0 by Lanczos (once per Hessian; shown separately); dattri's",
              "is `cache` + `attribute` (one batch of all training examples)."]
    (ROOT/"results").mkdir(exist_ok=True)
    (ROOT/"results"/"arnoldi.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
