"""Benchmark influence_nb.influence against pytorch-influence-functions (PIF) on digits logistic regression.

Checks (same run, same trained model, L2 λ = 0.01, float64, one torch thread — the machine is shared and
multi-threaded OpenMP small ops slow down 100x under load):
  1. PIF's LiSSA quirks, each measured on the real package: the recursion never advances, `r` averaging keeps one
     estimate divided by r, no final division by `scale`, helpful/harmful labels swapped.
  2. PIF's s_test with the one-line recursion fix (its own `hvp`/`grad_z`) vs ours after `to_pif_convention`:
     same s_test; PIF's `calc_influence_single` fed our converted s_test vs `to_pif_convention(scores)`.
  3. Time per test point at equal recursion depth (LiSSA, minibatch 100) and for the exact / CG solvers;
     peak RSS of each method in a fresh subprocess. Medians of repeats.
Run with the benchmark venv:  .bench-venv/bin/python benchmarks/bench_influence.py [--quick]
Writes benchmarks/results/influence.md.
"""
import json
import statistics
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import torch

torch.set_num_threads(1)
from influence_nb.data import DataConfig, load_data  # noqa: E402
from influence_nb.influence import (Objective, _hvp_sum, hvp, if_scores, lissa, make_solver,  # noqa: E402
                                    per_example_grads, to_pif_convention)
from influence_nb.models import ModelConfig  # noqa: E402
from influence_nb.train import OptimConfig, RunConfig, TrainConfig, train  # noqa: E402

ROOT = Path(__file__).resolve().parent
LAM = 1e-2
QUICK = "--quick" in sys.argv


def setup():
    ds = load_data(DataConfig(), torch.float64)
    cfg = RunConfig(model=ModelConfig(name="logreg"), optim=OptimConfig(weight_decay=LAM),
                    train=TrainConfig(trainer="lbfgs", epochs=3))
    return ds, train(cfg, ds, progress=False)


def loaders(ds, bs, shuffle):
    from torch.utils.data import DataLoader, TensorDataset
    tr, te = TensorDataset(ds.train.x, ds.train.y), TensorDataset(ds.test.x, ds.test.y)
    return DataLoader(tr, batch_size=bs, shuffle=shuffle), DataLoader(te, batch_size=1, shuffle=False)


def pif_s_test_fixed(z_test, t_test, model, z_loader, damp, scale, recursion_depth):
    "PIF's s_test with the recursion carried forward (h_estimate updated) — its own grad_z and hvp; no /scale."
    from pytorch_influence_functions.influence_function import calc_loss, grad_z, hvp as pif_hvp
    v = grad_z(z_test, t_test, model, -1)
    h = [x.detach().clone() for x in v]
    for _ in range(recursion_depth):
        for x, t in z_loader:
            hv = pif_hvp(calc_loss(model(x), t), list(model.parameters()), h)
            h = [(_v + (1 - damp) * _h - _hv / scale).detach() for _v, _h, _hv in zip(v, h, hv)]
            break
    return h


def flat(lst): return torch.cat([t.reshape(-1) for t in lst])
def cos(a, b): return float(torch.nn.functional.cosine_similarity(a.reshape(1, -1), b.reshape(1, -1))[0])
def rel(a, b): return float((a - b).norm() / b.norm())


def checks():
    warnings.filterwarnings("ignore")
    from pytorch_influence_functions.calc_influence_function import calc_influence_single, calc_s_test_single
    from pytorch_influence_functions.influence_function import s_test as pif_s_test
    ds, res = setup()
    obj, model = Objective(res, ds), res.model
    n = obj.n
    sv = make_solver(res, ds)
    scale = 1.05 * (sv.lam_max - LAM)  # PIF's Hessian has no L2: the data-term Hessian's top eigenvalue
    damp = LAM / scale  # PIF's fixed point is (H_data + damp·scale)⁻¹ = (H_data + λ)⁻¹ = our H⁻¹
    full, _ = loaders(ds, n, False)
    tl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(ds.test.x, ds.test.y), batch_size=1)
    rows, k = [], 0
    z, t = ds.test.x[k:k + 1], ds.test.y[k:k + 1]
    v = per_example_grads(obj, [k], train=False)[0]
    ours_exact = sv.solve(v[None])[0]
    # 1a. PIF's recursion never advances: its output is (2 − damp) v − H_b v / scale after any depth
    J = 50
    p = flat(pif_s_test(z, t, model, full, damp=damp, scale=scale, recursion_depth=J))
    emul = (2 - damp) * v - hvp(obj, v, damping=-LAM) / scale
    rows.append(("PIF s_test (depth 50) vs the one-step formula (2−damp)v − H_b v/scale",
                 f"rel. err {rel(p, emul):.1e}"))
    # its v = grad_z(test) keeps its graph (create_graph=True), so the 'HVP' also differentiates through v:
    # ∂/∂θ (∇L_b·v) = H_b v + H_test ∇L_b  (∇L_b ≠ 0 at an L2-regularized optimum: it is −λθ)
    gb = per_example_grads(obj, range(n)).mean(0)
    emul2 = emul - _hvp_sum(obj, obj.batch([k], train=False), gb[None])[0] / scale
    rows.append(("… plus the term from not detaching v: − H_test ∇L_b / scale", f"rel. err {rel(p, emul2):.1e}"))
    p5 = flat(pif_s_test(z, t, model, full, damp=damp, scale=scale, recursion_depth=5))
    rows.append(("PIF s_test depth 5 vs depth 50 (should differ if the recursion advanced)",
                 f"rel. diff {rel(p5, p):.1e}"))
    rows.append(("PIF s_test (as is) vs correct H⁻¹v·scale", f"cosine {cos(p, ours_exact):.3f}"))
    # 1b. r-averaging: list += list concatenates; the first estimate divided by r is what gets used
    pr = calc_s_test_single(model, z, t, full, -1, damp, scale, J, r=2)
    rows.append(("PIF calc_s_test_single r=2: length of returned list (params = 2)", f"{len(pr)}"))
    rows.append(("PIF r=2: first 2 entries vs single estimate / 2", f"rel. err {rel(flat(pr[:2]), p / 2):.1e}"))
    # 2. fixed PIF vs ours, deterministic full-batch recursion, equal depth
    Jf = 300 if QUICK else 1500
    pf = flat(pif_s_test_fixed(z, t, model, full, damp, scale, Jf))
    ours_l = lissa(obj, v, recursion_depth=Jf, scale=scale, damp=damp, damping=-LAM, batch_size=n)
    ours_pif = to_pif_convention(s_test=ours_l, scale=scale)["s_test"]
    rows.append((f"fixed PIF LiSSA vs ours (full batch, depth {Jf}) after to_pif_convention",
                 f"rel. err {rel(pf, ours_pif):.1e}"))
    rows.append(("fixed PIF LiSSA / scale vs our exact s_test", f"cosine {cos(pf / scale, ours_exact):.6f}"))
    # converter for the scores: PIF's calc_influence_single fed our s_test (as PIF's per-parameter list)
    sizes, shapes = [q.numel() for q in model.parameters()], [q.shape for q in model.parameters()]
    st_list = [a.reshape(s) for a, s in zip(torch.split(ours_exact, sizes), shapes)]
    trl, _ = loaders(ds, 1, False)
    infl, harmful, _, _ = calc_influence_single(model, trl, tl, k, -1, 1, 1, s_test_vec=st_list)
    infl = torch.tensor([float(x) for x in infl], dtype=torch.float64)
    S = if_scores(res, ds, [k], progress=False)[0]
    conv = to_pif_convention(S)
    rows.append(("PIF calc_influence_single (our exact s_test) vs to_pif_convention(S)['influences']",
                 f"rel. err {rel(infl, conv['influences']):.1e}"))
    rows.append(("PIF 'harmful'[:10] == to_pif_convention harmful[:10]",
                 str(harmful[:10] == conv["harmful"][:10].tolist())))
    rows.append(("PIF 'harmful'[0] is our most helpful (largest S)", str(harmful[0] == int(S.argmax()))))
    return rows


def _status_kib(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"): return int(line.split()[1])
    return 0


class _PeakRSS:
    "Sample VmRSS every 2 ms in a thread (the kernel's peak counter cannot be reset in every sandbox)."
    def __init__(self):
        self.base = self.peak = _status_kib("VmRSS")
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop:
            self.peak = max(self.peak, _status_kib("VmRSS"))
            time.sleep(0.002)

    def done(self):
        self.stop = True
        self.t.join()
        return (max(self.peak, _status_kib("VmRSS")) - self.base) / 1024


def time_child(method, K, J, bs):
    "One timing in a fresh process: seconds per test point and peak RSS (MiB)."
    warnings.filterwarnings("ignore")
    ds, res = setup()
    mem = _PeakRSS()
    scale = 2 * make_solver(res, ds).lam_max  # at 1.05 λ_max, minibatches of 100 make the recursion diverge
    ids = list(range(K))
    t0 = time.perf_counter()
    if method == "pif":
        from pytorch_influence_functions.calc_influence_function import calc_influence_single, calc_s_test_single
        trl, tl = loaders(ds, 1, False)
        trb, _ = loaders(ds, bs, True)
        for k in ids:  # PIF's img_wise: s_test (LiSSA, minibatches from a shuffled loader), then per-example grads
            z, t = tl.collate_fn([ds.test.x[k]]), tl.collate_fn([ds.test.y[k]])
            st = calc_s_test_single(res.model, z, t, trb, -1, LAM / scale, scale, J, 1)
            calc_influence_single(res.model, trl, tl, k, -1, J, 1, s_test_vec=st)
    elif method in ("lissa", "lissa_grads_first"):
        mode = "grads_first" if method == "lissa_grads_first" else "per_test"
        if_scores(res, ds, ids, solver="lissa", mode=mode, progress=False, recursion_depth=J, r=1, scale=scale,
                  batch_size=bs)
    elif method == "cg": if_scores(res, ds, ids, solver="cg", progress=False, tol=1e-10)
    elif method == "exact": if_scores(res, ds, ids, solver="exact", progress=False)
    sec = (time.perf_counter() - t0) / K
    return {"sec_per_test": sec, "peak_mib": mem.done()}


def run_child(method, K, J, bs):
    out = subprocess.run([sys.executable, __file__, "--child", method, str(K), str(J), str(bs)],
                         capture_output=True, text=True)
    if out.returncode: raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


NOTES = """Notes: the scale is twice the largest eigenvalue of the full-batch Hessian (our default): at 1.05 λ_max,
which earlier runs of this benchmark used, minibatches of 100 have eigenvalues above the scale and the recursion
diverges (its iterates reach 917× the most a convergent series reaches, cosine ≈ 0 with the exact s_test), which
our LiSSA now reports as `LissaDiverged`. PIF's LiSSA is timed as shipped (its recursion does not advance, but it
does the same work per iteration as a correct one: one minibatch HVP by double backward, through a fresh shuffled
DataLoader iterator, with create_graph on the second backward), then one `grad_z` per training example; its progress
bar writes to a pipe. Ours runs the recursion under no_grad with double-backward HVPs batched over all
targets of a block (is_grads_batched), so K targets share each minibatch HVP, and the training gradients
are vmapped per chunk. For a single test point the per-iteration cost is autograd overhead on a 650-parameter
model, so the gain is small (it exceeds 10x per test point from about 10 test points per block).
Memory: peak RSS during the timed section above the process's RSS after setup (trained model and data
loaded), sampled every 2 ms by a thread; max over repeats. It includes first-use allocations of torch/BLAS and
the allocator (PIF's too), and none of the methods grows with the recursion depth."""


def main():
    lines = ["# Influence functions vs pytorch-influence-functions", "",
             "Digits multinomial logistic regression (1500 train, 650 parameters), L2 λ = 0.01, L-BFGS to "
             "convergence, float64,", "one torch thread, CPU. `bench_influence.py` (run with the benchmark venv).", "",
             "## Agreement and PIF's quirks (measured on the installed package, v0.1.1)", "",
             "| check | result |", "|---|---|"]
    for a, b in checks():
        lines.append(f"| {a} | {b} |")
        print(a, b, flush=True)
    J, bs, reps = (200 if QUICK else 1000), 100, (1 if QUICK else 3)
    lines += ["", f"## Time per test point (LiSSA recursion depth {J}, minibatch {bs}, r = 1, scale = 2 λ_max; "
              f"medians of {reps} runs, fresh process each)", "",
              "| method | test points | s / test point | speed-up vs PIF | peak RSS above baseline (MiB) |",
              "|---|---|---|---|---|"]
    runs = [("pif", 2 if QUICK else 3), ("lissa", 1), ("lissa", 10), ("lissa", 100), ("lissa_grads_first", 100),
            ("cg", 100), ("exact", 100)]
    res = {}
    for m, K in runs:
        rs = [run_child(m, K, J, bs) for _ in range(reps)]
        res[(m, K)] = {"sec": statistics.median(r["sec_per_test"] for r in rs), "mib": max(r["peak_mib"] for r in rs)}
        print(m, K, res[(m, K)], flush=True)
    pif = res[("pif", runs[0][1])]["sec"]
    names = {"pif": "PIF img_wise (calc_s_test_single + calc_influence_single)",
             "lissa": "ours, LiSSA per_test (batched HVPs)", "lissa_grads_first": "ours, LiSSA grads_first",
             "cg": "ours, CG (tol 1e-10)", "exact": "ours, exact Hessian"}
    for (m, K), r in res.items():
        lines.append(f"| {names[m]} | {K} | {r['sec']:.4f} | {pif / r['sec']:.1f}x | {r['mib']:.0f} |")
    lines += ["", NOTES]
    (ROOT/"results").mkdir(exist_ok=True)
    (ROOT/"results"/"influence.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(time_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))))
    else: main()
