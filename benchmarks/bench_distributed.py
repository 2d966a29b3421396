"""Benchmark: the sharded stages on 1 process vs N processes (torch.distributed, gloo on CPU / NCCL on CUDA).

Four stages of the default digits MLP recipe (1,500 training examples, `--epochs` epochs of SGD): ground truth for
`--models` subset models (p = 0.1, blocks of `--models-per-batch`), MAGIC for `--targets` test targets (blocks of
`distributed.BLOCKS['magic']`), TracIn on every test point (train x target tiles), and influence functions with the
exact Hessian on every test point (train x target tiles; the Hessian and its factor built once per rank). `--stages`
picks some of them (gt, magic, tracin, if). Each configuration runs as its own
torchrun job; threads per process are set so that every configuration uses the same number of cores in total
(1 process x 2 threads vs 2 processes x 1 thread; 1 x 1 as a reference). Each stage is timed on rank 0 between barriers.
The results of the N-process runs are checked bit for bit against the 1-process run.

On a GPU machine, `--device cuda` runs 1 GPU vs every visible GPU (one rank per GPU).
Prints a markdown table and writes benchmarks/results/distributed.md (or --out).
Usage: python benchmarks/bench_distributed.py [--configs 1x2,2x1,1x1] [--epochs 5] [--models 64]
       [--models-per-batch 16] [--targets 64] [--stages gt,magic,tracin,if] [--device cpu|cuda] [--out PATH]
"""
import argparse, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--configs", default="1x2,2x1,1x1",
                help="processes x threads per process, comma-separated; the first is the baseline")
ap.add_argument("--epochs", type=int, default=5)
ap.add_argument("--models", type=int, default=64)
ap.add_argument("--models-per-batch", type=int, default=16)
ap.add_argument("--targets", type=int, default=64)
ap.add_argument("--stages", default="gt,magic,tracin,if", help="comma-separated: gt, magic, tracin, if")
ap.add_argument("--device", default="cpu")
ap.add_argument("--out", default=None)
ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal: run the stages, write timings here
a = ap.parse_args()
STAGES = [s.strip() for s in a.stages.split(",") if s.strip()]
if not STAGES or set(STAGES) - {"gt", "magic", "tracin", "if"}:
    sys.exit(f"--stages {a.stages!r}: choose from gt, magic, tracin, if")


def worker(out:Path):
    from influence_nb import distributed as D, lds as L
    from influence_nb.data import load_data
    from influence_nb.influence import IFOptions
    from influence_nb.magic import MagicOptions
    from influence_nb.tracin import TracInOptions
    from influence_nb.train import RunConfig, train
    cfg = RunConfig.from_dict({"train": {"epochs": a.epochs, "device": a.device}})
    data = load_data(cfg.data)
    res = train(cfg, data, progress=False)
    h, times, got = cfg.config_hash(), {}, {}
    def timed(name, f):
        D.barrier()
        t0 = time.perf_counter()
        r = f()
        D.barrier()
        times[name] = time.perf_counter() - t0
        return r
    if "gt" in STAGES:
        sub = L.make_subsets(len(data.train), 0.1, a.models, 0)
        o = L.LDSOptions(models_per_batch=a.models_per_batch)
        got["gt"] = timed("ground truth", lambda: D.sharded_ground_truth(res, data, sub, out/"gt", options=o,
                                                                         progress=False, checks=False))["losses"]
    if "magic" in STAGES:
        tg = list(range(a.targets))
        got["magic"] = timed("MAGIC", lambda: D.sharded_scores("magic", res, data, tg, "loss", MagicOptions(),
                                                               out/"magic", h)[0])
    allt = list(range(len(data.test)))
    if "tracin" in STAGES:
        got["tracin"] = timed("TracIn", lambda: D.sharded_scores("tracin", res, data, allt, "loss", TracInOptions(),
                                                                 out/"tracin", h)[0])
    if "if" in STAGES:
        got["if"] = timed("IF (exact Hessian)", lambda: D.sharded_scores("if", res, data, allt, "loss",
                                                                         IFOptions(solver="exact"), out/"if", h)[0])
    if D.is_main():
        torch.save(got, out/"results.pt")
        (out/"times.json").write_text(json.dumps({"times": times, "world": D.world(),
                                                  "threads": torch.get_num_threads(), "n_test": len(data.test),
                                                  "steps": res.n_steps}))


if a.worker:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    worker(Path(a.worker))
    sys.exit(0)

from influence_nb.distributed import BLOCKS, torchrun_command

configs = [tuple(int(v) for v in c.split("x")) for c in a.configs.split(",")]
procs = [f"{n}x{t}" for n, t in configs]
root = Path(tempfile.mkdtemp(prefix="bench_dist_"))
runs = {}
for (n, threads), c in zip(configs, procs):
    out = root/f"n{c}"
    out.mkdir()
    args = [__file__, "--worker", str(out), "--epochs", str(a.epochs), "--models", str(a.models),
            "--models-per-batch", str(a.models_per_batch), "--targets", str(a.targets), "--stages", a.stages,
            "--device", a.device]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    t0 = time.perf_counter()
    r = subprocess.run(torchrun_command(n, args), env=env, capture_output=True, text=True)
    if r.returncode != 0: sys.exit(f"{c} failed:\n{r.stderr[-3000:]}")
    runs[c] = json.loads((out/"times.json").read_text()) | {"job": time.perf_counter() - t0}
    print(f"{n} process(es) x {threads} thread(s): {runs[c]['times']}", flush=True)

base = torch.load(root/f"n{procs[0]}"/"results.pt", weights_only=True)
same = {n: all(torch.equal(base[k], torch.load(root/f"n{n}"/"results.pt", weights_only=True)[k]) for k in base)
        for n in procs}
r0 = runs[procs[0]]
stages = list(r0["times"])
head = " | ".join(f"{c.split('x')[0]} proc x {c.split('x')[1]} thr (s)" for c in procs)
lines = [f"| stage | {head} | " + " | ".join(f"speed-up {c}" for c in procs[1:]) + " |",
         "|---|" + "---|" * (2 * len(procs) - 1)]
for s in stages:
    cells = [f"{runs[n]['times'][s]:.1f}" for n in procs]
    ups = [f"{r0['times'][s] / runs[n]['times'][s]:.2f}" for n in procs[1:]]
    lines.append(f"| {s} | " + " | ".join(cells + ups) + " |")
tot = {n: sum(runs[n]["times"].values()) for n in procs}
lines.append("| **all stages** | " + " | ".join([f"{tot[n]:.1f}" for n in procs] +
                                               [f"{tot[procs[0]] / tot[n]:.2f}" for n in procs[1:]]) + " |")
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
md = "\n".join([
    "# Distributed stages: 1 process vs several",
    "",
    f"Default digits MLP recipe at {a.epochs} epochs ({r0['steps']} steps), device {a.device}, stages {a.stages}. "
    f"Ground truth: {a.models} subset models (p = 0.1) in blocks of {a.models_per_batch}; MAGIC: {a.targets} targets "
    f"in blocks of {BLOCKS['magic']['targets']}; TracIn: all {r0['n_test']} test points in tiles of 512 training x 64 "
    f"targets; IF: the exact Hessian (4,810 parameters, built once per rank), all {r0['n_test']} test points in tiles "
    "of 1,024 training x 64 targets. Configurations: processes x "
    "threads per process (`torch.set_num_threads`, `OMP_NUM_THREADS`); 1x2 and 2x1 use the same number of cores. "
    "Wall time of each stage on rank 0 between barriers (process start-up and the one training run excluded).",
    "",
    *lines,
    "",
    f"Speed-up: time of the {procs[0]} configuration / time of the configuration. Results bitwise equal to the "
    f"{procs[0]} run: " + ", ".join(f"{c}: {'yes' if same[c] else 'NO'}" for c in procs) + ".",
    "",
    f"Machine: {platform.processor() or platform.machine()}, {cores} CPU core(s) usable by this job "
    f"(os.sched_getaffinity), torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} at the end (the "
    "machine is shared with other jobs: timings are noisy, and a multi-threaded process suffers most from it), "
    "and where fewer cores are usable than the configurations ask for, the processes share them.",
    "",
    "Reproduce: `python benchmarks/bench_distributed.py " + " ".join(sys.argv[1:]) + "`",
])
print(md)
dest = Path(a.out) if a.out else Path(__file__).parent/"results"/"distributed.md"
dest.write_text(md + "\n")
print(f"\nwritten: {dest}")
