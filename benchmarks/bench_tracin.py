"""TracIn benchmark: influence_nb.tracin vs captum's TracInCP / TracInCPFast on the same model and checkpoints.

Run with the benchmark venv (captum installed):  . .bench-venv/bin/activate && python benchmarks/bench_tracin.py
Each measurement runs in a fresh subprocess (so peak RSS is per method); times are medians over --repeats runs.
Conventions reconciled: captum's TracInCP score is Σ_c lr_c ∇ℓ_test·∇ℓ_train with lr returned by the checkpoint
load function — the same sign (proponents positive) and scale as ours when it returns our η_c (lr_mean).
TracInCPFast uses the final layer's weight only (no bias): compared with our layers=['<fc>.weight'].
"""
import argparse, copy, json, os, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

def make_run(model:str, n_train:int, n_test:int, n_ckpt:int):
    "The benchmark's training run (deterministic: every process that calls this gets the same run)."
    from influence_nb.train import RunConfig, TrainConfig, train
    from influence_nb.models import ModelConfig
    from influence_nb.data import DataConfig, load_data
    cfg = RunConfig(data=DataConfig(n_train=n_train, n_test=n_test), model=ModelConfig(name=model, width=8),
                    train=TrainConfig(epochs=10, dtype="float32"))
    data = load_data(cfg.data, torch.float32)
    res = train(cfg, data, progress=False)
    res.checkpoints = res.checkpoints[-n_ckpt:]
    return res, data

def setup(workdir:Path, case:list):
    "Write the run's checkpoints as captum reads them (a state dict and the rate), plus the case description."
    from influence_nb.train import load_state_into
    res, _ = make_run(*case)
    m = copy.deepcopy(res.model)
    for j, ck in enumerate(res.checkpoints):
        load_state_into(m, ck["state"], res.consts)
        torch.save({"model": m.state_dict(), "lr": ck["lr_mean"]}, workdir/f"ck{j}.pt")
    (workdir/"case.json").write_text(json.dumps(case))

def score(method:str, res, data, paths:list)->torch.Tensor:
    "One call of `method`: 'ours:<tracin method>', 'ours:last_w', 'captum:cp', 'captum:cp_samplewise', 'captum:fast'."
    model, tids = res.model, torch.arange(len(data.test))
    fc = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)][-1]
    if method.startswith("ours"):
        from influence_nb.tracin import tracin_scores
        kind = method.split(":")[1]
        if kind == "last_w": return tracin_scores(res, data, tids, layers=[fc + ".weight"], progress=False)
        return tracin_scores(res, data, tids, method=kind, progress=False)
    from captum.influence import TracInCP, TracInCPFast
    def load(m, path):
        sd = torch.load(path, weights_only=True)
        m.load_state_dict(sd["model"])
        return sd["lr"]
    tr = torch.utils.data.TensorDataset(data.train.x, data.train.y)
    model.eval()
    if method == "captum:fast":
        tc = TracInCPFast(model, fc, tr, paths, load, loss_fn=torch.nn.CrossEntropyLoss(reduction="sum"),
                          batch_size=256)
    else:
        sw = method == "captum:cp_samplewise"
        tc = TracInCP(model, tr, paths, load, loss_fn=torch.nn.CrossEntropyLoss(reduction="sum" if sw else "none"),
                      batch_size=256, sample_wise_grads_per_batch=sw)
    return tc.influence((data.test.x, data.test.y)).double()

def child(workdir:Path, method:str, out:Path):
    torch.set_num_threads(1)
    res, data = make_run(*json.loads((workdir/"case.json").read_text()))
    paths = [str(workdir/f"ck{j}.pt") for j in range(len(res.checkpoints))]
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(2):  # cold (first call in the process: lazy initialisation of torch.func etc.), then warm
        t0 = time.perf_counter()
        S = score(method, res, data, paths)
        times.append(time.perf_counter() - t0)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    torch.save(S, out)
    print(json.dumps({"seconds": times[1], "cold": times[0], "peak_rss_mb": rss1 / 1024,
                      "delta_rss_mb": (rss1 - rss0) / 1024}))

def run_child(workdir, method, i):
    out = workdir/f"S_{method.replace(':', '_')}_{i}.pt"
    r = subprocess.run([sys.executable, __file__, "--child", method, "--workdir", str(workdir), "--out", str(out)],
                       capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if r.returncode != 0: raise RuntimeError(f"{method} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1]), torch.load(out, weights_only=True)

def bench(case, methods, reference, repeats):
    with tempfile.TemporaryDirectory() as tmp:
        w = Path(tmp)
        setup(w, case)
        rows, scores = [], {}
        for m in methods:
            stats = []
            for i in range(repeats):
                s, scores[m] = run_child(w, m, i)
                stats.append(s)
            rows.append((m, statistics.median(x["seconds"] for x in stats), statistics.median(x["cold"] for x in stats),
                         max(x["peak_rss_mb"] for x in stats), statistics.median(x["delta_rss_mb"] for x in stats)))
    n_pairs, out = case[1] * case[2], []
    for m, sec, cold, rss, drss in rows:
        ref = scores[reference[m]] if m in reference else None
        err = float((scores[m] - ref).abs().max() / ref.abs().max()) if ref is not None else float("nan")
        out.append(dict(method=m, seconds=sec, cold=cold, pairs_per_s=n_pairs / sec, rss=rss, drss=drss, err=err,
                        ref=reference.get(m, "")))
    return out

HEADER = ["torch {torch}, CPU, 1 thread per run (shared 2-core machine: timings are noisy; medians of {repeats}",
          "runs, each in a fresh process that calls the method twice: 'warm' = the second call, 'first call' includes",
          "one-time lazy initialisation such as torch.func's). Peak RSS is the process's high-water mark (ru_maxrss),",
          "Δ RSS its growth during the calls (0 = below the level reached while building the run). Scores are float32",
          "runs of `tracin_scores` vs captum `influence(...)` on the same model, the same checkpoint files and the",
          "same learning rates (η_c = lr_mean). `err` = max |S − S_ref| / max |S_ref|."]
CP = {"ours:materialized": "ours:auto", "captum:cp": "ours:auto", "captum:cp_samplewise": "ours:auto"}
CASES = [
    ("Full-model TracInCP, digits MLP (64 hidden, GELU), 1500 train × 100 test, 5 checkpoints",
     ["mlp", 1500, 100, 5],
     ["ours:auto", "ours:materialized", "captum:cp", "captum:cp_samplewise"], CP, "captum:cp"),
    ("Full-model TracInCP, digits small CNN (width 8), 600 train × 50 test, 3 checkpoints", ["cnn", 600, 50, 3],
     ["ours:auto", "ours:materialized", "captum:cp", "captum:cp_samplewise"], CP, "captum:cp"),
    ("Last layer (weight only) = TracInCPFast, digits MLP, 1500 train × 297 test, 5 checkpoints",
     ["mlp", 1500, 297, 5],
     ["ours:last_w", "captum:fast"], {"captum:fast": "ours:last_w"}, "captum:fast"),
]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--workdir")
    ap.add_argument("--out")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    if a.child: return child(Path(a.workdir), a.child, Path(a.out))
    import captum
    lines = [f"# TracIn benchmark (influence_nb vs captum {captum.__version__})", ""]
    lines += [h.format(torch=torch.__version__, repeats=a.repeats) for h in HEADER] + [""]
    for title, case, methods, ref, base in CASES:
        print(title, flush=True)
        r = bench(case, methods, ref, a.repeats)
        bsec = next(x["seconds"] for x in r if x["method"] == base)
        lines += [f"## {title}", "",
                  f"| method | median s (warm) | first call s | train×test pairs/s (warm) | speed-up vs {base} "
                  "| peak RSS MB | Δ RSS MB | rel. err vs |", "|---|---|---|---|---|---|---|---|"]
        for x in r:
            e = f"{x['err']:.1e} ({x['ref']})" if x["ref"] else "reference"
            lines.append(f"| {x['method']} | {x['seconds']:.3f} | {x['cold']:.3f} | {x['pairs_per_s']:.3g} "
                         f"| {bsec / x['seconds']:.2f}× | {x['rss']:.0f} | {x['drss']:.0f} | {e} |")
        lines.append("")
        print("\n".join(lines[-len(r) - 4:]), flush=True)
    from influence_nb.io import atomic_write_text
    atomic_write_text(ROOT/"benchmarks"/"results"/"tracin.md", "\n".join(lines) + "\n")
    print("\n".join(lines))

if __name__ == "__main__":
    main()
