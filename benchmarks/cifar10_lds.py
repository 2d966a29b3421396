"""MAGIC's LDS on the real 4,000-image CIFAR-10 subset, next to TracIn, EK-FAC influence and TRAK (CPU scale).

The recipe is the `cifar10-resnet9-magic` preset (smooth ResNet-9, SGD momentum 0.875, one-cycle, weight decay 1e-3,
no augmentation) at a CPU size: base width 4 (channels 4-32 instead of MAGIC's 160-1280), 2 epochs, batch 200
(40 steps), on all 4,000 training images of `../shared/data/cifar10_subset`. Targets: test examples 0..49.
Ground truth: 50 retrained subset models per drop fraction (1%, 5%, 10%), every model with the run's
initialization and batch order (`influence_nb.lds.ground_truth`).

Every stage writes its result to `--out` and is skipped when its file is there, so an interrupted run continues
where it stopped (the ground truth is resumable per model). Order: base run, MAGIC (targets in chunks), ground
truth at 5%, the other methods, ground truth at 1% and 10%, then the table (`influence_nb.lds.evaluate`, which reads
the saved scores and ground truth). `partial.md` holds the LDS of what is done so far.

    nohup python benchmarks/cifar10_lds.py --out outputs/cifar10_lds > outputs/cifar10_lds.log 2>&1 &

`--tiny` runs the same stages at a toy size (200 images, 4 targets, 4 subsets, one fraction) in about a minute.
`--worker K/W` runs helper process K of W on a machine with spare cores: it computes the ground truth models j with
j % W == K (last first, one at a time, so it meets the main process instead of repeating its work) and, for K = 0,
the other methods' scores, into the same folder; the main process skips whatever is already saved.

    nohup python benchmarks/cifar10_lds.py --out outputs/cifar10_lds --worker 0/2 > outputs/cifar10_lds.w0.log 2>&1 &

`--worker 1/1 --up` goes first to last instead; `--magic-chunks 30,40` computes only those MAGIC chunks (another
process); `--table` prints the LDS table of whatever is saved, without retraining (`saved_table.md`). The
recorded run (`benchmarks/results/cifar10.md`) used the main process with such helpers on a heavily loaded machine.
"""
import argparse, logging, time
from pathlib import Path

import torch

from influence_nb.cifar import MAGIC_RECIPE, warm_start  # registers the model, the dataset and the preset
from influence_nb.data import load_data, shared_data_dir
from influence_nb.io import atomic_write_text
from influence_nb.lds import evaluate, get_subsets, ground_truth, lds, random_scores
from influence_nb.magic import magic_scores
from influence_nb.pipeline import resolve_config
from influence_nb.registry import METHODS
from influence_nb.train import DTYPES, atomic_torch_save, evaluate as eval_model, train

log = logging.getLogger("cifar10_lds")
OTHERS = {"tracin": {}, "ekfac": {"uncovered": "diagonal"}, "trak": {}}

WARM_LR = 0.1  # the peak learning rate of the run from the warm start (one-cycle, as the preset)
TINY_WARM = dict(n=200, epochs=1, batch_size=50)

def cpu_config(root, tiny:bool=False, warm=None, # warm: the warm-start state-dict file (None: from scratch)
               overrides=None): # more `section.field` overrides (a variant, `cifar10_pilot.py`)
    "The preset at the CPU size (see the module docstring), from its random initialization or from `warm`."
    o = {"data.name": "cifar10_subset", "data.root": str(root), "data.n_test": 200, "model.width": 4,
         "train.epochs": 2, "train.batch_size": 200, "train.device": "cpu"}
    if tiny: o.update({"data.n_train": 200, "data.n_test": 20, "train.batch_size": 50})
    if warm is not None: o.update({"model.pretrained_path": str(warm), "optim.lr": WARM_LR})
    o.update(overrides or {})
    return resolve_config("cifar10-resnet9-magic", overrides=o)

def _load(path):
    return torch.load(path, map_location="cpu", weights_only=True) if Path(path).exists() else None

def partial_table(out:Path, scores:dict, ps, m:int, seed:int=0)->str:
    "LDS of every (method, p) whose scores and ground truth are complete (no bootstrap; the final table has it)."
    rows = ["| method | " + " | ".join(f"p={p}" for p in ps) + " |", "|---|" + "---|" * len(ps)]
    for k, (S, tid) in scores.items():
        cells = []
        for p in ps:
            files = [out/f"gt_p{p}"/f"model_{j:05d}.pt" for j in range(m)]
            if not all(f.exists() for f in files) or not (out/f"gt_p{p}"/"base.pt").exists():
                cells.append("—")
                continue
            sub = torch.load(out/f"subsets_p{p}.pt", weights_only=True)["subsets"]
            Y = torch.stack([_load(f)["losses"] for f in files])[:, tid]
            Y0 = _load(out/f"gt_p{p}"/"base.pt")["losses"][tid]
            cells.append(f"{lds(S, sub, Y, Y0, n_boot=100, seed=seed)['mean']:.3f}")
        rows.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(rows)

def _gt_part(a, cfg, data, out:Path, p:float, k:int, W:int):
    "Ground truth models `j` of fraction `p` with `j % W == k`, last first (`--up`: first first), skipping saved ones."
    sub = get_subsets(out/f"subsets_p{p}.pt", cfg, len(data.train), p, a.m, 0)
    rows = range(k, a.m, W)
    for j in (rows if a.up else reversed(rows)):
        if (out/f"gt_p{p}"/f"model_{j:05d}.pt").exists(): continue
        ground_truth(cfg, data, sub, out/f"gt_p{p}", progress=False, checks=False, rows=[j])
    log.info("worker %d/%d: ground truth p=%g done", k, W, p)

def _magic_chunk(res, data, out:Path, tid, c:int, chunk:int):
    "MAGIC scores of targets `tid[c:c + chunk]`, saved as `magic_<c>.pt` (skipped when saved)."
    f = out/f"magic_{c:04d}.pt"
    if f.exists(): return
    t = time.perf_counter()
    S = magic_scores(res, data, tid[c:c + chunk], progress=False)
    atomic_torch_save({"scores": S, "seconds": time.perf_counter() - t}, f)
    log.info("magic targets %d..%d: %.1f s", c, c + chunk - 1, time.perf_counter() - t)

def _others(res, data, out:Path, tid)->tuple:
    "The other methods' scores (skipping saved ones): name -> (scores, target ids), name -> seconds."
    scores, secs = {}, {}
    for k, o in OTHERS.items():
        f = out/f"{k}.pt"
        if not f.exists():
            spec = METHODS[k]
            opts = spec.make_options(o)
            why = spec.why_unavailable(res, data, opts)
            if why is not None:
                log.warning("%s is unavailable: %s", k, why)
                continue
            t = time.perf_counter()
            try: S = spec(res, data, tid, "loss", opts, False)
            except Exception as e:  # a method that fails is reported, the others still run
                log.warning("%s failed: %s: %s", k, type(e).__name__, e)
                continue
            atomic_torch_save({"scores": torch.as_tensor(S).double(), "seconds": time.perf_counter() - t}, f)
            log.info("%s: %.1f s", k, time.perf_counter() - t)
        d = _load(f)
        scores[k], secs[k] = (d["scores"], torch.tensor(tid)), d["seconds"]
    return scores, secs

def worker(a, cfg, data, out:Path, tid, ps):
    """A helper process `k` of `W`: its share of each fraction's ground truth (in `ps` order); worker 0 also scores
    the other methods after the first fraction."""
    k, W = (int(x) for x in a.worker.split("/"))
    for i, p in enumerate(ps):
        _gt_part(a, cfg, data, out, p, k, W)
        if i == 0 and k == 0: _others(train(cfg, data, progress=False), data, out, tid)

def saved_table(a, out:Path, tid, ps, base_losses)->str:
    """The LDS table of the saved scores on every fraction whose ground truth is complete (mean over targets and its
    bootstrap interval, as `evaluate`; without `evaluate`'s retraining checks and noise floor)."""
    chunks = [c for c in range(0, len(tid), a.chunk) if (out/f"magic_{c:04d}.pt").exists()]
    if not chunks: raise SystemExit(f"no MAGIC scores saved in {out} yet")
    keep = torch.tensor([t for c in chunks for t in tid[c:c + a.chunk]])  # targets MAGIC has scored so far
    names = [k for k in ["magic", *OTHERS] if k == "magic" or (out/f"{k}.pt").exists()]
    S = {"magic": torch.cat([_load(out/f"magic_{c:04d}.pt")["scores"] for c in chunks])}
    S.update({k: _load(out/f"{k}.pt")["scores"][keep] for k in names[1:]})
    secs = {k: (sum(_load(out/f"magic_{c:04d}.pt")["seconds"] for c in chunks) if k == "magic"
                else _load(out/f"{k}.pt")["seconds"]) for k in names}
    n = S["magic"].shape[1]
    S["random"], secs["random"] = random_scores(len(keep), n, 0), None
    tid = keep.tolist()
    done = [p for p in sorted(ps) if all((out/f"gt_p{p}"/f"model_{j:05d}.pt").exists() for j in range(a.m))]
    rows = ["| method | " + " | ".join(f"p={p}" for p in done) + " | time (s) |", "|---|" + "---|" * (len(done) + 1)]
    cols = {}
    for p in done:
        sub = torch.load(out/f"subsets_p{p}.pt", weights_only=True)["subsets"]
        Y = torch.stack([_load(out/f"gt_p{p}"/f"model_{j:05d}.pt")["losses"] for j in range(a.m)])[:, tid]
        Y0 = base_losses[tid]
        cols[p] = {k: lds(v, sub, Y, Y0, n_boot=1000, seed=0) for k, v in S.items()}
    for k in S:
        cells = [f"{cols[p][k]['mean']:.3f} [{cols[p][k]['ci_low']:.3f}, {cols[p][k]['ci_high']:.3f}]" for p in done]
        t = "—" if secs[k] is None else f"{secs[k]:.0f}"
        rows.append(f"| {k} | " + " | ".join(cells) + f" | {t} |")
    head = (f"{len(tid)} targets (test ids {tid[0]}..{tid[-1]}), {a.m} retrained models per fraction; time: seconds "
            "to compute each method's scores (all targets; MAGIC: the chunks shown)")
    return head + "\n\n" + "\n".join(rows)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="default: outputs/cifar10_lds_warm (warm start), outputs/cifar10_lds")
    ap.add_argument("--start", default="warm", choices=["warm", "scratch"],
                    help="warm: from `influence_nb.cifar.warm_start` (trained on disjoint JPEG images); scratch: "
                         "from the random initialization")
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--m", type=int, default=50, help="subset models per fraction")
    ap.add_argument("--ps", default="0.05,0.01,0.1", help="drop fractions, in the order they are computed")
    ap.add_argument("--chunk", type=int, default=10, help="MAGIC targets per reverse pass (memory)")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--table", action="store_true", help="only print the LDS table of what is saved (no training)")
    ap.add_argument("--no-floor", action="store_true", help="the final table without the noise floor (3 retrainings)")
    ap.add_argument("--up", action="store_true", help="a worker goes through its subsets first to last")
    ap.add_argument("--magic-chunks", default=None, metavar="C,C",
                    help="a helper process: compute only these MAGIC chunks (first target ids), then stop")
    ap.add_argument("--worker", default=None, metavar="K/W",
                    help="helper process K of W (0-based): its share of the ground truth, and (K = 0) the other methods")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    if a.tiny: a.targets, a.m, a.ps, a.chunk = 4, 4, "0.05", 2
    ps = [float(p) for p in a.ps.split(",")]
    root = shared_data_dir()
    if root is None: raise SystemExit("the shared data folder (../shared/data) is absent")
    out = Path(a.out or ("outputs/cifar10_lds_warm" if a.start == "warm" else "outputs/cifar10_lds"))
    out.mkdir(parents=True, exist_ok=True)
    warm = None
    if a.start == "warm":
        warm = warm_start(root, out/"warm_start.pt", **(TINY_WARM if a.tiny else {}))
        log.info("warm start %s", warm)
    cfg = cpu_config(root/"cifar10_subset", a.tiny, warm)
    data = load_data(cfg.data, DTYPES[cfg.train.dtype])
    tid = list(range(a.targets))
    t0 = time.time()
    if a.worker is not None: return worker(a, cfg, data, out, tid, ps)
    if a.table:
        base = train(cfg, data, progress=False)
        md = saved_table(a, out, tid, ps, eval_model(base.model, data.test)["losses"].double())
        atomic_write_text(out/"saved_table.md", md + "\n")
        print(md)
        return md
    res = train(cfg, data, progress=False)
    if a.magic_chunks is not None:
        for c in (int(x) for x in a.magic_chunks.split(",")): _magic_chunk(res, data, out, tid, c, a.chunk)
        return None
    ev = eval_model(res.model, data.test)
    log.info("base run %s: %d steps in %.1f s, test accuracy %.3f (%d test images)", cfg.config_hash(),
             res.n_steps, res.seconds, ev["accuracy"], len(data.test))
    atomic_write_text(out/"run.txt", f"config {cfg.config_hash()}\n{cfg.to_json()}\ntrain seconds {res.seconds:.1f}\n"
                                     f"test accuracy {ev['accuracy']:.4f}\n")
    scores, secs = {}, {}
    def have_magic():
        parts, s = [], 0.0
        for c in range(0, len(tid), a.chunk):
            d = _load(out/f"magic_{c:04d}.pt")
            if d is None: return False
            parts.append(d["scores"])
            s += d["seconds"]
        scores["magic"], secs["magic"] = (torch.cat(parts), torch.tensor(tid)), s
        return True
    for c in range(0, len(tid), a.chunk): _magic_chunk(res, data, out, tid, c, a.chunk)
    have_magic()
    def gt(p, first):
        sub = get_subsets(out/f"subsets_p{p}.pt", cfg, len(data.train), p, a.m, 0)
        t = time.perf_counter()
        ground_truth(cfg, data, sub, out/f"gt_p{p}", progress=False, checks=first, attr_cfg=cfg)
        log.info("ground truth p=%g: %.1f s", p, time.perf_counter() - t)
        atomic_write_text(out/"partial.md", partial_table(out, scores, ps, a.m))
    gt(ps[0], True)
    o_scores, o_secs = _others(res, data, out, tid)
    scores.update(o_scores)
    secs.update(o_secs)
    atomic_write_text(out/"partial.md", partial_table(out, scores, ps, a.m))
    for p in ps[1:]: gt(p, False)
    given = {k: {"scores": S, "target_ids": t, "seconds": secs[k]} for k, (S, t) in scores.items()}
    r = evaluate(given, cfg=cfg, data=data, out_dir=out, ps=sorted(ps), m=a.m, target_ids=tid, registered=False,
                 res=res, progress=False, floor=not (a.tiny or a.no_floor))
    atomic_write_text(out/"table.md", r["markdown"] + "\n")
    atomic_torch_save({"rows": r["rows"]}, out/"rows.pt")
    log.info("done in %.1f s\n%s", time.time() - t0, r["markdown"])
    return r

if __name__ == "__main__": main()
