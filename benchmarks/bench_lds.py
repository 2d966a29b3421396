"""Benchmark: batched (vmap over stacked models) vs one-by-one ground-truth training for LDS.

64 subset models of the default digits MLP recipe (300 steps each), p = 0.1, for each optimizer and dtype asked for.
One by one = `influence_nb.train.train` per model (the foundation trainer); batched = `influence_nb.lds.train_batched`
(the run's optimizer protocol, `opt.update` vmapped over models). Peak memory: `influence_nb.lds.peak_memory` around
one batch (CPU: the process's RSS high-water mark above its level at the start; CUDA: torch's peak allocation).
Prints a markdown table (median of repeats) and writes benchmarks/results/lds.md (or --out).
Usage: python benchmarks/bench_lds.py [--repeats 3] [--models 64] [--threads 1] [--device cpu|cuda]
       [--dtypes float64,float32] [--optims sgd,adam] [--out PATH]
"""
import argparse, os, platform, resource, statistics, time
from pathlib import Path

import torch

from influence_nb.data import load_data
from influence_nb.lds import _no_ckpt, make_subsets, peak_memory, train_batched
from influence_nb.train import OptimConfig, RunConfig, TrainConfig, train

OPTIMS = {"sgd": {}, "adam": {"lr": 1e-2}, "adamw": {"lr": 1e-2}}  # the default recipe's SGD; Adam at a stable lr

ap = argparse.ArgumentParser()
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--models", type=int, default=64)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--device", default="cpu", help="train.device for both methods ('cpu' or 'cuda')")
ap.add_argument("--dtypes", default="float64,float32")
ap.add_argument("--optims", default="sgd", help=f"comma-separated, of {list(OPTIMS)}")
ap.add_argument("--out", default=None, help="markdown output (default benchmarks/results/lds.md)")
a = ap.parse_args()
torch.set_num_threads(a.threads)


def one_by_one(cfg, data, W):
    return [train(_no_ckpt(cfg), data, weights=w, progress=False).state for w in W]


def batched(cfg, data, W, chunk):
    out = []
    for s in range(0, len(W), chunk): out += train_batched(cfg, data, W[s:s + chunk], progress=False)[1]
    return out


def sync():
    if torch.cuda.is_available(): torch.cuda.synchronize()


def timed(f, reps):
    ts, r = [], None
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        r = f()
        sync()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), ts, r


def peak_mib(f, device):
    with peak_memory(device) as pm: f()
    return pm["bytes"] / 2 ** 20


rows = []
for opt in a.optims.split(","):
    for dtype in a.dtypes.split(","):
        cfg = RunConfig(optim=OptimConfig(name=opt, **OPTIMS[opt]), train=TrainConfig(dtype=dtype, device=a.device))
        data = load_data(cfg.data, getattr(torch, dtype))
        W = (~make_subsets(len(data.train), 0.1, a.models, seed=0)).double()
        t_one, ts_one, s_one = timed(lambda: one_by_one(cfg, data, W), a.repeats)
        rows.append(dict(optim=opt, dtype=dtype, method="one by one (train)", chunk=1, median_s=t_one, runs=ts_one,
                         ratio=1.0, maxdiff=0.0, mem=peak_mib(lambda: one_by_one(cfg, data, W[:1]), a.device)))
        for chunk in (16, a.models):
            t_b, ts_b, s_b = timed(lambda: batched(cfg, data, W, chunk), a.repeats)
            md = max(float((x.params[k] - y.params[k]).abs().max()) for x, y in zip(s_b, s_one) for k in x.params)
            rows.append(dict(optim=opt, dtype=dtype, method="batched (vmap)", chunk=chunk, median_s=t_b, runs=ts_b,
                             ratio=t_one / t_b, maxdiff=md,
                             mem=peak_mib(lambda: batched(cfg, data, W[:chunk], chunk), a.device)))

ncpu = os.cpu_count() or 1
dev = a.device + (f" ({torch.cuda.get_device_name()})" if a.device.startswith("cuda") else "")
mem_what = "torch CUDA allocation" if a.device.startswith("cuda") else "RSS high-water mark"
lines = [f"# LDS ground truth: batched vs one-by-one training ({a.models} digits-MLP subset models)", "",
         f"Device: {dev}, machine {platform.processor() or platform.machine()} with {ncpu} CPUs, torch "
         f"{torch.__version__}, torch threads {a.threads}, median of {a.repeats} repeats; ratios are measured in the "
         "same run" + (" (shared machine with other jobs running: absolute times are noisy)." if ncpu <= 2 else "."),
         "",
         "| optimizer | dtype | method | models per batch | median s | runs (s) | speedup vs one-by-one | "
         f"max abs param diff vs one-by-one | peak MiB (one batch, {mem_what}) |",
         "|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    lines.append(f"| {r['optim']} | {r['dtype']} | {r['method']} | {r['chunk']} | {r['median_s']:.2f} | "
                 f"{', '.join(f'{t:.2f}' for t in r['runs'])} | {r['ratio']:.2f}x | {r['maxdiff']:.1e} | {r['mem']:.1f} |")
lines.append(f"\nPeak RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB.")
md = "\n".join(lines)
print(md)
out = Path(a.out) if a.out else Path(__file__).parent/"results"/"lds.md"
out.parent.mkdir(exist_ok=True)
out.write_text(md + "\n")
