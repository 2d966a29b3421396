"""Benchmark MAGIC (influence_nb.magic): metagradient time / training time for 1 and 64 targets, VJP modes, SGD vs
AdamW on the default recipe, and peak memory / states held for each state strategy at T = 1,000 steps. One torch
thread (the machine is shared); timings are medians of repeats measured in the same run. Writes
benchmarks/results/magic.md (`--optimizers` runs only the SGD-vs-AdamW comparison and replaces its section there).

    python benchmarks/bench_magic.py [--quick] [--optimizers] [--resnet]

`--resnet` runs only the ResNet-9 section (the `cifar10-resnet9` preset's width, batch, image size and recipe, on
fewer steps: the ratios are per step) and replaces that section of results/magic.md.
"""
import copy, json, os, resource, statistics, subprocess, sys, time
from pathlib import Path
import torch

torch.set_num_threads(1)
from influence_nb.data import DataConfig, load_data, shared_data_dir
from influence_nb.magic import magic_scores
from influence_nb.models import ModelConfig, n_params
from influence_nb.train import OptimConfig, RunConfig, TrainConfig, train

ROOT = Path(__file__).resolve().parent
ADAMW = {"name": "adamw", "lr": 0.003}  # the digits-mlp-adamw recipe's optim section
OPT_SECTION = "## SGD vs AdamW (default recipe)"

def timed(f):
    t0 = time.perf_counter(); out = f(); return time.perf_counter() - t0, out

def ratios(cfg, data, reps, K64=64, perex=True, label="", reps64=None):
    "Median train time, MAGIC (memory) time for 1 and K64 targets; interleaved repeats."
    tr, m1, m64, p1, p64, a64, n1, n64 = [], [], [], [], [], [], [], []
    nt = len(data.test)
    for r in range(reps):
        t, res = timed(lambda: train(cfg, data, progress=False)); tr.append(t)
        m1.append(timed(lambda: magic_scores(res, data, [0], progress=False))[0])
        if reps64 is None or r < reps64: m64.append(timed(lambda: magic_scores(res, data, [i % nt for i in range(K64)], progress=False))[0])
        if perex and r == 0:
            p1.append(timed(lambda: magic_scores(res, data, [0], vjp="perexample", progress=False))[0])
            p64.append(timed(lambda: magic_scores(res, data, [i % nt for i in range(K64)], vjp="perexample", progress=False))[0])
            a64.append(timed(lambda: magic_scores(res, data, [i % nt for i in range(K64)], vjp="autograd", progress=False))[0])
        if reps64 is None:  # graphs rebuilt in reverse instead of kept from the replay (keep_graphs=False)
            n1.append(timed(lambda: magic_scores(res, data, [0], keep_graphs=False, progress=False))[0])
            n64.append(timed(lambda: magic_scores(res, data, [i % nt for i in range(K64)], keep_graphs=False, progress=False))[0])
        print(f"  {label} rep {r}: train {tr[-1]:.2f}s  magic K=1 {m1[-1]:.2f}s  K={K64} {m64[-1]:.2f}s (K=64 rep {len(m64)})"
              + (f"  no kept graphs: K=1 {n1[-1]:.2f}s K={K64} {n64[-1]:.2f}s" if n1 else ""), flush=True)
    # states already in memory (train.checkpoints='all'): no forward replay
    cfg_all = RunConfig.from_dict({**cfg.to_dict(), "train": {**cfg.train.to_dict(), "checkpoints": "all"}})
    res_all = train(cfg_all, data, progress=False)
    a1 = statistics.median(timed(lambda: magic_scores(res_all, data, [0], progress=False))[0] for _ in range(reps))
    med = statistics.median
    return dict(T=res.n_steps, params=n_params(res.model), train=med(tr), magic1=med(m1), magic64=med(m64), magic1_kept=a1,
                perex1=med(p1) if p1 else None, perex64=med(p64) if p64 else None, auto64=med(a64) if a64 else None, nog1=med(n1) if n1 else None, nog64=med(n64) if n64 else None, K64=K64)

def rss_mb():
    "Current resident set size (MB), from /proc (Linux)."
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

class PeakRSS:
    "Sample the current RSS every 2 ms in a thread; `.peak` is the maximum seen (ru_maxrss is a lifetime peak, useless here)."
    def __enter__(self):
        import threading
        self.peak, self.stop = rss_mb(), False
        def loop():
            while not self.stop: self.peak = max(self.peak, rss_mb()); time.sleep(0.002)
        self.th = threading.Thread(target=loop, daemon=True); self.th.start(); return self
    def __exit__(self, *a): self.stop = True; self.th.join()

def strategy_child(strategy, k):
    "Run in a subprocess: peak RSS growth of one strategy at T = 1000 (digits MLP, batch 30, 20 epochs)."
    cfg = RunConfig(train=TrainConfig(batch_size=30, checkpoints="none"))
    data = load_data(cfg.data, torch.float64)
    res = train(cfg, data, progress=False)
    import gc, tempfile
    gc.collect(); base = rss_mb()
    with tempfile.TemporaryDirectory() as tmp, PeakRSS() as pk:
        t, (S, info) = timed(lambda: magic_scores(res, data, [0], strategy=strategy, k=k, state_dir=tmp, progress=False, return_info=True))
    opt = [v for d in res.state.opt_state.values() for v in d.values()]
    state_mb = sum(v.numel() * v.element_size() for v in list(res.state.params.values()) + opt) / 2**20
    print(json.dumps(dict(T=res.n_steps, seconds=t, peak_states=info["peak_states"], forward_steps=info["forward_steps"],
                          state_mb=state_mb, rss_growth_mb=pk.peak - base, train_s=res.seconds, checksum=float(S.sum()))))

def optimizer_ratios(reps:int, K64:int=64)->list:
    "SGD (default recipe) vs AdamW (same recipe, `ADAMW` optim section): train, MAGIC K=1 and K=64, interleaved."
    base = RunConfig(train=TrainConfig(checkpoints="none")).to_dict()
    cfgs = {"SGD (momentum 0.9)": RunConfig.from_dict(base),
            "AdamW " + json.dumps(ADAMW): RunConfig.from_dict({**base, "optim": ADAMW})}
    data = load_data(cfgs["SGD (momentum 0.9)"].data, torch.float64)
    t = {k: dict(train=[], m1=[], m64=[]) for k in cfgs}
    nt = len(data.test)
    for r in range(reps):
        for k, c in cfgs.items():
            dt, res = timed(lambda: train(c, data, progress=False))
            t[k]["train"].append(dt)
            t[k]["m1"].append(timed(lambda: magic_scores(res, data, [0], progress=False))[0])
            t[k]["m64"].append(timed(lambda: magic_scores(res, data, [i % nt for i in range(K64)], progress=False))[0])
            print(f"  {k} rep {r}: train {t[k]['train'][-1]:.2f}s  K=1 {t[k]['m1'][-1]:.2f}s  "
                  f"K={K64} {t[k]['m64'][-1]:.2f}s", flush=True)
    med = statistics.median
    rows = {k: {q: med(v) for q, v in d.items()} for k, d in t.items()}
    sgd = rows["SGD (momentum 0.9)"]
    lines = [OPT_SECTION, "", f"{reps} interleaved repeats, 1 thread; MAGIC defaults (memory, kept graphs, vjp='auto').", "",
             "| optimizer | train s | MAGIC K=1 s | K=1 / train | MAGIC K=64 s | K=64 / train | K=1 ratio vs SGD's | "
             "K=64 ratio vs SGD's |", "|---|---|---|---|---|---|---|---|"]
    for k, r in rows.items():
        a1, a64 = r["m1"] / r["train"], r["m64"] / r["train"]
        s1, s64 = sgd["m1"] / sgd["train"], sgd["m64"] / sgd["train"]
        lines.append(f"| {k} | {r['train']:.2f} | {r['m1']:.2f} | {a1:.2f}× | {r['m64']:.2f} | {a64:.1f}× | "
                     f"{a1 / s1:.2f}× | {a64 / s64:.2f}× |")
    return lines

def write_optimizer_section(lines:list, section:str=OPT_SECTION):
    "Replace (or add) a section (default: SGD vs AdamW) of results/magic.md."
    p = ROOT/"results"/"magic.md"
    old = p.read_text() if p.exists() else "# MAGIC benchmark\n"
    if section in old:
        head, rest = old.split(section, 1)
        nxt = rest.find("\n## ")
        old = head + (rest[nxt + 1:] if nxt >= 0 else "")
    p.write_text(old.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n")

RESNET_SECTION = "## ResNet-9 at the cifar10-resnet9 preset's sizes"

def resnet_cfg(n_train:int=500, checkpoints:str="none")->RunConfig:
    "The `cifar10-resnet9` preset (width 16, batch 100, 32x32, float32, augmentation, one-cycle nesterov SGD), 1 epoch."
    from influence_nb.pipeline import PRESETS
    d = copy.deepcopy(PRESETS["cifar10-resnet9"])
    d["data"].update(root=str(shared_data_dir()/"cifar10_subset"), n_train=n_train)
    d["train"].update(epochs=1, checkpoints=checkpoints)
    return RunConfig.from_dict(d)

def resnet_ratios(reps:int, K4:int=4, K64:int=64)->list:
    """ResNet-9 preset sizes, same run: train, MAGIC K=1 (autograd, func, states kept by training) on T = 5 steps;
    one reverse step with K4 targets by vmap (func), `is_grads_batched` (autograd) and a loop; K64 vs K=1 on T = 1."""
    cfg, cfg_all = resnet_cfg(), resnet_cfg(checkpoints="all")
    data = load_data(cfg.data, torch.float32)
    t = {k: [] for k in ["train", "a1", "f1", "kept1"]}
    for r in range(reps):
        dt, res = timed(lambda: train(cfg, data, progress=False)); t["train"].append(dt)
        t["a1"].append(timed(lambda: magic_scores(res, data, [0], progress=False))[0])  # auto = autograd for K=1
        t["f1"].append(timed(lambda: magic_scores(res, data, [0], vjp="func", progress=False))[0])
        res_all = train(cfg_all, data, progress=False)
        t["kept1"].append(timed(lambda: magic_scores(res_all, data, [0], progress=False))[0])
        print(f"  resnet9 rep {r}: " + "  ".join(f"{k} {v[-1]:.1f}s" for k, v in t.items()), flush=True)
    m = {k: statistics.median(v) for k, v in t.items()}
    tr, T = m["train"], res.n_steps
    step = step_costs(res, data, K4)
    c1 = resnet_cfg(n_train=100)  # one step: K=64 costs ~64 double backwards per step
    d1 = load_data(c1.data, torch.float32)
    t1, r1 = timed(lambda: train(c1, d1, progress=False))
    k1 = timed(lambda: magic_scores(r1, d1, [0], progress=False))[0]
    k64 = timed(lambda: magic_scores(r1, d1, list(range(K64)), progress=False))[0]
    print(f"  resnet9 T=1: train {t1:.1f}s K=1 {k1:.1f}s K={K64} {k64:.1f}s", flush=True)
    load = os.getloadavg()[0]
    return ([RESNET_SECTION, "",
            f"ResNet-9 width 16 ({n_params(res.model)} parameters), CIFAR-10 32x32, batch 100, float32, augmentation, "
            f"one-cycle nesterov SGD: the `cifar10-resnet9` preset's sizes on fewer steps (every cost is per step, so "
            f"the ratios do not depend on T). 1 thread; medians of {reps} interleaved repeats; the 2-core machine was "
            f"shared with other jobs (load average {load:.1f} at the end), so only same-run ratios mean anything.", "",
            f"| MAGIC run (T = {T}: 500 images, 1 epoch) | seconds | / training |", "|---|---|---|",
            f"| training | {tr:.1f} | 1 |",
            f"| K=1, vjp='auto' (autograd), states replayed in memory, graphs kept | {m['a1']:.1f} | "
            f"{m['a1'] / tr:.2f}× |",
            f"| K=1, vjp='func' | {m['f1']:.1f} | {m['f1'] / tr:.2f}× |",
            f"| K=1, states kept by training (`checkpoints='all'`, graphs rebuilt) | {m['kept1']:.1f} | "
            f"{m['kept1'] / tr:.2f}× |", "",
            f"One reverse step (a state in the middle of the run) in units of one training step, K = 1 and "
            f"K = {K4}:", "",
            "| K | linearize (forward + backward with graph) | VJP | VJP per target |", "|---|---|---|---|"]
            + [f"| {k} | {a:.2f} | {v:.2f} | {v / kk:.2f} |" for k, kk, a, v in step] + ["",
            f"K = {K64} vs K = 1 on a 1-step run (100 images, batch 100; same process): training {t1:.1f} s, "
            f"K=1 {k1:.1f} s ({k1 / t1:.1f}×), K={K64} {k64:.1f} s ({k64 / t1:.0f}×): **K={K64} / K=1 = "
            f"{k64 / k1:.0f}×**, i.e. {(k64 - k1) / (K64 - 1) / t1:.2f} training steps per extra target."])

def step_costs(res, data, K:int)->list:
    "Linearize and VJP time of one reverse step (autograd K=1, func K=1; K targets: vmap, is_grads_batched, loop)."
    from influence_nb.magic import Replayer, bn_running_names, linearize_step, linearize_step_func
    from influence_nb.measure import train_mode
    from influence_nb.train import train_step
    rp = Replayer(res, data)
    t_mid = res.n_steps // 2
    st = rp.run(res.init.clone(), 0, t_mid)
    _, b, wb, lr = rp.batch(t_mid)
    run = bn_running_names(res.model)
    def cot(K):
        g = torch.Generator().manual_seed(0)
        return ({k: torch.randn((K,) + v.shape, generator=g) for k, v in st.params.items()},
                {e: {k: torch.randn((K,) + v.shape, generator=g) for k, v in d.items()}
                 for e, d in st.opt_state.items()},
                {k: torch.randn((K,) + st.buffers[k].shape, generator=g) for k in run})
    import influence_nb.magic as M
    def one(lin, K, batched=None):
        ts, _ = timed(lambda: train_step(res.model, st, b, wb, lr, rp.optim, rp.consts))
        tl, (_, vjp) = timed(lambda: lin(res.model, st, b, wb, lr, rp.optim, rp.consts, run))
        tb, sb, rb = cot(K)
        fused, M.FUSED_INPUT = M.FUSED_INPUT, (2**40 if batched == "fused" else M.FUSED_INPUT)
        try: tv, _ = timed(lambda: vjp(tb, sb, rb) if batched in (None, "fused") else vjp(tb, sb, rb, batched))
        finally: M.FUSED_INPUT = fused
        return tl / ts, tv / ts
    rows = []
    with train_mode(res.model):
        one(linearize_step, 1)  # warm-up
        for name, lin, KK, bt in [("1, autograd", linearize_step, 1, None), ("1, func", linearize_step_func, 1, None),
                                  (f"{K}, func (vmap, default: at most FUSED_INPUT input elements per call)",
                                   linearize_step_func, K, None),
                                  (f"{K}, func (vmap, all {K} targets fused into the batch)", linearize_step_func, K,
                                   "fused"),
                                  (f"{K}, autograd (`is_grads_batched`)", linearize_step, K, True),
                                  (f"{K}, autograd, a loop over targets", linearize_step, K, False)]:
            a, v = one(lin, KK, bt)
            rows.append((name, KK, a, v))
            print(f"  step {name}: linearize {a:.2f}  vjp {v:.2f} training steps", flush=True)
    return rows

def resnet_strategy_child(strategy, k):
    "Run in a subprocess: peak RSS growth of one strategy on the ResNet-9 preset sizes (800 images: T = 8), K = 1."
    cfg = resnet_cfg(n_train=800)
    data = load_data(cfg.data, torch.float32)
    res = train(cfg, data, progress=False)
    import gc, tempfile
    gc.collect(); base = rss_mb()
    with tempfile.TemporaryDirectory() as tmp, PeakRSS() as pk:
        kw = dict(keep_graphs=False) if k == "nograph" else dict(k=k)
        t, (S, info) = timed(lambda: magic_scores(res, data, [0], strategy=strategy, state_dir=tmp, progress=False,
                                                  return_info=True, **kw))
    opt = [v for d in res.state.opt_state.values() for v in d.values()]
    state_mb = sum(v.numel() * v.element_size() for v in list(res.state.params.values()) + opt) / 2**20
    print(json.dumps(dict(T=res.n_steps, seconds=t, peak_states=info["peak_states"], forward_steps=info["forward_steps"],
                          graphs=info["graphs_kept"], state_mb=state_mb, rss_growth_mb=pk.peak - base,
                          train_s=res.seconds, checksum=float(S.sum()))))

def resnet_strategies()->list:
    "Peak memory and time of each state strategy on the ResNet-9 preset sizes (one subprocess each)."
    lines = ["", "Peak memory per state strategy (800 images: T = 8 steps, K = 1, one run each in a fresh process; "
             "memory keeps the step graphs that fit in `GRAPH_BUDGET_MB`):", "",
             "| strategy | states held (peak) | state MB held | step graphs kept | forward steps | peak RSS growth MB | "
             "MAGIC s | MAGIC / train |", "|---|---|---|---|---|---|---|---|"]
    for strat, k in [("memory", 2), ("memory", "nograph"), ("disk", 2), ("tree", 2), ("tree", "sqrt")]:
        out = subprocess.run([sys.executable, __file__, "--resnet-child", strat, str(k)], capture_output=True,
                             text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        name = (strat if k != "nograph" else "memory, keep_graphs=False") if strat != "tree" else f"tree k={k}"
        lines.append(f"| {name} | {r['peak_states']} | {r['peak_states'] * r['state_mb']:.1f} | {r['graphs']} | "
                     f"{r['forward_steps']} | {r['rss_growth_mb']:.0f} | {r['seconds']:.1f} | "
                     f"{r['seconds'] / r['train_s']:.1f}× |")
        print("  ", lines[-1], flush=True)
    return lines

def main(quick=False):
    lines = ["# MAGIC benchmark", "", f"torch {torch.__version__}, 1 CPU thread unless noted, float64 unless noted "
             "(medians of interleaved repeats; train and MAGIC measured in the same run). MAGIC uses its defaults: strategy='memory' "
             "with step graphs kept from the replay, vjp='auto' (autograd for K=1, torch.func for K>1 without BatchNorm).", ""]
    reps = 2 if quick else 5
    cfg = RunConfig(train=TrainConfig(checkpoints="none")); data = load_data(cfg.data, torch.float64)
    print("default recipe", flush=True)
    d = ratios(cfg, data, reps, label="digits")
    rows = [("digits MLP 64-64-10 (default recipe)", d)]
    sd = shared_data_dir()
    resnet = sd is not None and (sd/"cifar10_subset").exists()
    if not resnet: lines.append("CIFAR-10 subset not found (shared_data_dir): ResNet-9 section skipped.")
    lines += ["## Metagradient time / training time (states in memory)", "",
              "| model | steps T | params | train s | MAGIC K=1 s | ratio K=1 | K=1, states kept by training (`checkpoints='all'`) | MAGIC K=64 s | ratio K=64 | K=64 / K=1 | graphs rebuilt (`keep_graphs=False`): ratio K=1, K=64 / K=1 |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['T']} | {r['params']} | {r['train']:.2f} | {r['magic1']:.2f} | {r['magic1'] / r['train']:.2f}× | "
                     f"{r['magic1_kept'] / r['train']:.2f}× | {r['magic64']:.2f} | {r['magic64'] / r['train']:.1f}× | {r['magic64'] / r['magic1']:.1f}× | "
                     + (f"{r['nog1'] / r['train']:.2f}×, {r['nog64'] / r['nog1']:.1f}× |" if r['nog1'] else "– |"))
    if d["perex1"]:
        lines += ["", "## VJP modes (default recipe)", "", "| vjp | K=1 s | K=64 s |", "|---|---|---|",
                  f"| auto (default: autograd for K=1, func for K>1) | {d['magic1']:.2f} | {d['magic64']:.2f} |",
                  f"| autograd (whole-step VJP, `is_grads_batched`) | {d['magic1']:.2f} | {d['auto64']:.2f} |",
                  f"| perexample (per-example grads once + K HVPs) | {d['perex1']:.2f} | {d['perex64']:.2f} |"]
    if not quick:  # torch's default on this machine: one thread per core
        torch.set_num_threads(os.cpu_count()); print(f"digits, {os.cpu_count()} threads", flush=True)
        d2 = ratios(cfg, data, 3, perex=False, label=f"digits {os.cpu_count()} threads"); torch.set_num_threads(1)
        lines += ["", f"## Default recipe with {os.cpu_count()} threads (torch's default here)", "",
                  "| train s | MAGIC K=1 s | ratio K=1 | K=1 with states kept | MAGIC K=64 s | K=64 / K=1 | graphs rebuilt: ratio K=1, K=64 / K=1 |", "|---|---|---|---|---|---|---|",
                  f"| {d2['train']:.3f} | {d2['magic1']:.3f} | {d2['magic1'] / d2['train']:.2f}× | {d2['magic1_kept'] / d2['train']:.2f}× | {d2['magic64']:.2f} | {d2['magic64'] / d2['magic1']:.1f}× | {d2['nog1'] / d2['train']:.2f}×, {d2['nog64'] / d2['nog1']:.1f}× |"]
    if resnet:
        print("resnet9 at the preset's sizes", flush=True)
        strat = resnet_strategies()
        lines += [""] + resnet_ratios(2 if quick else 3) + strat
    print("SGD vs AdamW", flush=True)
    lines += [""] + optimizer_ratios(2 if quick else 5)
    print("strategies at T=1000", flush=True)
    lines += ["", "## State strategies at T = 1,000 steps (digits MLP, batch 30, 20 epochs, 1 target)", "",
              "| strategy | states held (peak) | state MB held | forward steps | peak RSS growth MB | MAGIC s | MAGIC / train |", "|---|---|---|---|---|---|---|"]
    for strat, k in [("memory", 2), ("disk", 2), ("tree", 2), ("tree", "sqrt")]:
        out = subprocess.run([sys.executable, __file__, "--child", strat, str(k)], capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        name = strat if strat != "tree" else f"tree k={k}"
        lines.append(f"| {name} | {r['peak_states']} | {r['peak_states'] * r['state_mb']:.1f} | {r['forward_steps']} | {r['rss_growth_mb']:.0f} | {r['seconds']:.2f} | {r['seconds'] / r['train_s']:.1f}× |")
        print("  ", lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT/"results").mkdir(exist_ok=True); (ROOT/"results"/"magic.md").write_text(text)

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--resnet-child":
        resnet_strategy_child(sys.argv[2], int(sys.argv[3]) if sys.argv[3].isdigit() else sys.argv[3])
    elif "--resnet" in sys.argv:
        strat = resnet_strategies()  # subprocesses first, while this process is small (a shared machine's OOM killer)
        ls = resnet_ratios(2 if "--quick" in sys.argv else 3) + strat
        ls += ["", "Measured with `python benchmarks/bench_magic.py --resnet`."]
        print("\n".join(ls))
        write_optimizer_section(ls, RESNET_SECTION)
    elif len(sys.argv) > 1 and sys.argv[1] == "--child":
        strategy_child(sys.argv[2], int(sys.argv[3]) if sys.argv[3].isdigit() else sys.argv[3])
    elif "--optimizers" in sys.argv:
        ls = optimizer_ratios(2 if "--quick" in sys.argv else 5)
        print("\n".join(ls))
        write_optimizer_section(ls)
    else: main(quick="--quick" in sys.argv)
