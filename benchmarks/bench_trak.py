"""TRAK benchmark: influence_nb.trak vs traker (MadryLab's TRAK, `traker` on PyPI) on the digits LR and MLP.

Run with the benchmark venv (traker installed):  . .bench-venv/bin/activate && python benchmarks/bench_trak.py
(`--quick`: fewer repeats). Writes benchmarks/results/trak.md.

Conventions reconciled:
* traker's scores are `[n_train, n_targets]`, positive = the training example raises the target's output (helpful):
  transposed, they have our orientation. Its target feature is the gradient of TRAK's log-odds output, which is our
  `target='trak'`.
* traker divides every gradient by sqrt(P) and the inverse of X^T X by its mean absolute entry: a positive scale
  per model. Scores are compared after one least-squares scale c (`ours ≈ c · traker`): `rel. err` =
  ||ours − c·traker|| / ||ours||. A ridge of ours (λ = ridge·||Φ||²_F/n) is traker's `lambda_reg` = λ / P (and
  λ·k / P with traker's own projection, whose entries have variance 1 where ours have 1/k).
* "same R": traker is given a projector that applies our own random matrix (`influence_nb.trak.Projector`), so the
  two compute the same formula from the same features; "own R": each side draws its own Gaussian matrix (traker's
  BasicProjector, the one it uses on CPU), so they agree only up to the JL noise, and both are also compared with
  the exact (unprojected) scores; "none": no projection (traker's NoOpProjector).
* traker runs in float32 (`use_half_precision=False`; its default float16 is for GPUs), so both run float32 models.
Timings: one process, `--threads` torch threads (default 1: the machine is shared), medians of `--repeats` runs of
the whole scoring (features, solve, scores; traker's memory-mapped store in a fresh temporary folder each run).
"""
import argparse, copy, dataclasses, logging, math, statistics, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from influence_nb.data import DataConfig, load_data
from influence_nb.models import ModelConfig
from influence_nb.seeding import derive_component_seed
from influence_nb.train import OptimConfig, RunConfig, TrainConfig, train
from influence_nb.trak import Projector, TrakOptions, ensemble_runs, member_features, trak_scores, trak_solve


def setups():
    lr = RunConfig(model=ModelConfig(name="logreg"), optim=OptimConfig(weight_decay=1e-2),
                   train=TrainConfig(trainer="lbfgs", epochs=1, checkpoints="none", dtype="float32"))
    mlp = RunConfig(train=TrainConfig(dtype="float32", checkpoints="none"))
    return {"digits LR (650 parameters)": lr, "digits MLP (4,810 parameters)": mlp}


def our_projectors(res, seed, k, M):
    P = sum(v.numel() for v in res.state.params.values())
    return {m: Projector(P, k, derive_component_seed(seed, "trak_proj", f"{m}|final"), "gaussian") for m in range(M)}


def feature_norm2(res, data, k, seed):
    "||Φ||²_F / n of model 0's features (the scale of our relative ridge), with our projection or none."
    proj = None if k is None else our_projectors(res, seed, k, 1)[0]
    Phi, _, _ = member_features(res.model, res.state.params, {**res.consts, **res.state.buffers}, data, [0], "loss",
                                "trak", proj)
    return float((Phi.double() ** 2).sum()) / len(Phi)


def run_traker(models, data, targets, k, lambda_reg, projector_kind, projs, out_dir):
    "traker's scores `[K, n]` for `models` (one model id each); `projs`: our projectors by model id for 'ours'."
    from trak import TRAKer
    from trak.projectors import AbstractProjector, NoOpProjector, ProjectionType
    from trak.utils import vectorize
    model = models[0]
    P = sum(p.numel() for p in model.parameters())
    if projector_kind == "none": projector = NoOpProjector(grad_dim=P, proj_dim=0, device="cpu")
    elif projector_kind == "ours":
        class Ours(AbstractProjector):
            def __init__(self): super().__init__(P, k, 0, ProjectionType.normal, "cpu")
            def project(self, grads, model_id):
                if isinstance(grads, dict): grads = vectorize(grads, device="cpu")
                return projs[model_id](grads)
            def free_memory(self): pass
        projector = Ours()
    else: projector = None  # traker's own choice on CPU: BasicProjector, normal entries
    n = len(data.train)
    tr = TRAKer(model=model, task="image_classification", train_set_size=n, save_dir=str(out_dir), device="cpu",
                proj_dim=k or 0, projector=projector, projector_seed=0, use_half_precision=False, lambda_reg=lambda_reg,
                logging_level=logging.ERROR)
    x, y = data.train.x.float(), data.train.y
    for mid, mdl in enumerate(models):
        tr.load_checkpoint(mdl.state_dict(), model_id=mid)
        for s in range(0, n, 256): tr.featurize(batch=(x[s:s + 256], y[s:s + 256]), num_samples=len(x[s:s + 256]))
    tr.finalize_features()
    xt, yt = data.test.x[targets].float(), data.test.y[targets]
    for mid, mdl in enumerate(models):
        tr.start_scoring_checkpoint(exp_name="bench", checkpoint=mdl.state_dict(), model_id=mid,
                                    num_targets=len(targets))
        tr.score(batch=(xt, yt), num_samples=len(targets))
    return torch.as_tensor(np.asarray(tr.finalize_scores(exp_name="bench"))).T.double()


def compare(a, b):
    "Least-squares scale c (a ≈ c b), relative error after it, Pearson."
    a, b = a.double().flatten(), b.double().flatten()
    c = float(a @ b / (b @ b))
    return c, float((a - c * b).norm() / a.norm()), float(np.corrcoef(a.numpy(), b.numpy())[0, 1])


def timed(fn, repeats):
    ts, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def as_float64(res, data_cfg):
    "The same trained parameters in float64 (the reference for float32 rounding), with float64 data."
    r64 = dataclasses.replace(res, model=copy.deepcopy(res.model).double(), state=res.state.to(dtype=torch.float64),
                              consts={k: v.double() for k, v in res.consts.items()})
    return r64, load_data(data_cfg, torch.float64)


def rescaled_like_traker(models, data, targets, projs, lam_t, P):
    "Our members' solves, each scaled like traker's (its inverse Gram divided by its mean |entry|), then averaged."
    S, Q = 0.0, 0.0
    for m, mdl in enumerate(models):
        params = {k: v.detach() for k, v in mdl.named_parameters()}
        Phi, Qm, T = member_features(mdl, params, dict(mdl.named_buffers()), data, targets, "loss", "trak", projs[m])
        n, k = Phi.shape
        # traker's factor: X = Φ/√P in float32, the float32 inverse of XᵀX + λ_t I, divided by its mean |entry|
        X = Phi.float() / math.sqrt(P)
        inv = torch.linalg.inv(X.T @ X + lam_t * torch.eye(k))
        ridge_m = P * lam_t * n / float((Phi.double() ** 2).sum())  # traker's absolute λ, in our relative units
        S, Q = S + trak_solve(Phi, T, ridge_m) / float(inv.abs().mean()), Q + Qm.double()
    return S / len(models) * (Q / len(models))[None]


def bench_setup(name, cfg, repeats, M):
    data = load_data(cfg.data, torch.float32)
    res = train(cfg, data, progress=False)
    res64, data64 = as_float64(res, cfg.data)
    seed, n = cfg.train.seed, len(data.train)
    P = sum(v.numel() for v in res.state.params.values())
    targets = list(range(len(data.test)))
    rows, k = [], 512 if P < 1000 else 1024
    runs = ensemble_runs(res, data, M) if M > 1 and cfg.train.trainer == "sgd" else []  # L-BFGS: one optimum
    models = [res.model] + [r.model for r in runs]
    for M_ in sorted({1, len(models)}):
        for proj_kind, kk, ridge in [("ours", k, 0.0), ("ours", k, 1.0), ("none", None, 1.0), ("own", k, 1.0)]:
            if M_ > 1 and proj_kind != "ours": continue
            projs = our_projectors(res, seed, kk, M_) if proj_kind == "ours" else None
            # traker's Gram is ours / P with our R (entries of variance 1/k); its own R has unit-variance entries (× k)
            lam_t = ridge * feature_norm2(res, data, kk if proj_kind == "ours" else None, seed) / P
            if proj_kind == "own": lam_t *= kk
            opts = TrakOptions(proj_dim=kk, n_models=M_, ridge=ridge, target="trak", proj_type="gaussian")
            def ours(): return trak_scores(res, data, targets, opts=opts, progress=False, runs=runs)
            t_ours, S_ours = timed(ours, repeats)
            def peer():  # a fresh projector each run, as ours makes one per call (no random matrix kept across runs)
                pr = our_projectors(res, seed, kk, M_) if proj_kind == "ours" else None
                with tempfile.TemporaryDirectory() as d:
                    return run_traker(models[:M_], data, targets, kk, lam_t, proj_kind, pr, Path(d)/"trak")
            t_peer, S_peer = timed(peer, repeats)
            c, err, r = compare(S_ours, S_peer)
            row = {"setup": name, "M": M_, "projection": {"ours": f"same R, k={kk}", "none": "none",
                                                          "own": f"own R each, k={kk}"}[proj_kind],
                   "ridge": ridge, "scale c": c, "rel. err": err, "Pearson": r, "ours s": t_ours, "traker s": t_peer}
            if proj_kind == "own":  # different matrices: how close is each to the exact (unprojected, float64) scores?
                o_ex = TrakOptions(proj_dim=None, ridge=ridge, target="trak")
                exact = trak_scores(res64, data64, targets, opts=o_ex, progress=False)
                r_o, r_p = compare(S_ours, exact)[2], compare(S_peer, exact)[2]
                row["vs float64"] = f"Pearson with exact {r_o:.3f} / {r_p:.3f}"
            elif M_ == 1:  # the same formula: how far is each float32 result from the float64 one?
                ref = trak_scores(res64, data64, targets, opts=opts, progress=False)
                row["vs float64"] = f"{compare(ref, S_ours)[1]:.1e} / {compare(ref, S_peer)[1]:.1e}"
            else:
                R = rescaled_like_traker(models[:M_], data, targets, projs, lam_t, P)
                row["vs float64"] = f"ours rescaled per model like traker vs traker: {compare(R, S_peer)[1]:.1e}"
            rows.append(row)
            print(row, flush=True)
    return rows, n, P, len(targets)


def markdown(all_rows, info, threads, repeats):
    import trak
    head = (f"# TRAK benchmark (influence_nb vs traker {getattr(trak, '__version__', '0.3.2')})\n\n"
            f"torch {torch.__version__}, CPU, {threads} thread(s), medians of {repeats} runs (shared machine: timings "
            "are noisy). Both float32, M = number of models, target = TRAK's log-odds output. `c`: least-squares scale "
            "(ours ≈ c · traker); `rel. err` = ‖ours − c·traker‖ / ‖ours‖. 'same R': traker applies our random matrix; "
            "'own R': each side draws its own Gaussian matrix (traker's CPU BasicProjector), so only the JL noise "
            "separates them. 'vs float64': the relative error of each float32 result against the same formula "
            "computed by us in float64 from the same parameters (for 'own R': each one's Pearson with the exact, "
            "unprojected float64 scores; for M > 1: our members rescaled by traker's per-model factor, the mean "
            "|entry| of each float32 inverse Gram, against traker). Both sides are given the same trained models "
            "(M > 1: `ensemble_runs`), so the times are of the attribution alone.\n")
    out = [head]
    for name, (rows, n, P, K) in all_rows.items():
        out += [f"\n## {name}: {n} train × {K} targets\n",
                "| M | projection | ridge | c | rel. err | Pearson | vs float64 (ours / traker) | ours s | traker s "
                "| speed-up |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            out.append(f"| {r['M']} | {r['projection']} | {r['ridge']:g} | {r['scale c']:.3g} | {r['rel. err']:.1e} | "
                       f"{r['Pearson']:.6f} | {r.get('vs float64', '')} | {r['ours s']:.2f} | "
                       f"{r['traker s']:.2f} | {r['traker s'] / r['ours s']:.1f}× |")
    out.append("\nPeers not run: traker's CudaProjector (`fast_jl`) needs CUDA and a compiled extension, so on CPU "
               "traker uses its BasicProjector (what 'own R' measures). " + info)
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true"); ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3); ap.add_argument("--models", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT/"benchmarks"/"results"/"trak.md"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    repeats = 1 if a.quick else a.repeats
    all_rows = {name: bench_setup(name, cfg, repeats, a.models) for name, cfg in setups().items()}
    try: import fast_jl  # noqa: F401
    except ImportError: info = "`fast_jl` is not installed in this venv."
    else: info = ""
    md = markdown(all_rows, info, a.threads, repeats)
    Path(a.out).write_text(md); print(md)


if __name__ == "__main__":
    main()
