"""Pilot LDS of CPU-size variants of the MAGIC recipe on real CIFAR-10, used to choose the size of `cifar10_lds.py`.

Each variant (JSON overrides of `cifar10_lds.cpu_config`) trains on the 4,000 exact-pixel training images, scores 4
test images that the main table does not use (ids 196..199) with MAGIC, retrains 16 subset models at 5% drops from
subsets that the main table does not use (seed 7) and prints the test accuracy, the seconds per stage and the LDS.
`--warm` starts every variant from `influence_nb.cifar.warm_start` (JPEG training images 4,000..13,999).

    python benchmarks/cifar10_pilot.py '{"optim.lr": 0.05}' '{"train.batch_size": 1000, "train.epochs": 4}'
    python benchmarks/cifar10_pilot.py --warm '{"optim.lr": 0.1}'

`--line` instead walks the straight line from all weights 1 to a 5% removal for the first variant: for 3 subsets
and 2 targets, the slope of the target loss over the first 1%, 10%, 50% and 100% of the way, next to MAGIC's
derivative along it (equal slopes all the way: a linear run, whose removal MAGIC predicts exactly).
"""
import argparse, json, logging, tempfile, time
from pathlib import Path

import torch

from cifar10_lds import cpu_config
from influence_nb.cifar import warm_start
from influence_nb.data import load_data, shared_data_dir
from influence_nb.lds import ground_truth, lds, make_subsets
from influence_nb.magic import magic_scores
from influence_nb.train import DTYPES, evaluate, retrain, train

PILOT_TARGETS, PILOT_SEED = [196, 197, 198, 199], 7

def pilot(cfg, data, m:int=16, p:float=0.05)->dict:
    "Train `cfg`, MAGIC on the pilot targets, `m` retrained subset models at drop fraction `p`, their LDS."
    t = time.perf_counter()
    res = train(cfg, data, progress=False)
    row = {"accuracy": evaluate(res.model, data.test)["accuracy"], "train_s": time.perf_counter() - t}
    t = time.perf_counter()
    S = magic_scores(res, data, PILOT_TARGETS, progress=False)
    row["magic_s"] = time.perf_counter() - t
    sub = make_subsets(len(data.train), p, m, PILOT_SEED)
    t = time.perf_counter()
    gt = ground_truth(res, data, sub, tempfile.mkdtemp(), target_ids=PILOT_TARGETS, progress=False, checks=False)
    row["gt_s"] = time.perf_counter() - t
    r = lds(S, sub, gt["losses"], gt["base_losses"], n_boot=10)
    row.update(lds=r["mean"], per_target=[round(float(x), 3) for x in r["per_target"]])
    return row

def line(cfg, data, n_sub:int=3, p:float=0.05)->list:
    "Slopes `(φ(1 − ε 1_S) − φ(1)) / ε` for ε in 0.01, 0.1, 0.5, 1 against MAGIC's `Σ_{i∈S} score_i` (rows)."
    res, tid = train(cfg, data, progress=False), PILOT_TARGETS[:2]
    S = magic_scores(res, data, tid, progress=False).double()
    f0 = evaluate(res.model, data.test)["losses"].double()[tid]
    rows = []
    for j, d in enumerate(make_subsets(len(data.train), p, n_sub, PILOT_SEED).double()):
        row = {"subset": j, "magic": (S @ d).tolist()}  # removal changes the loss by +Σ scores (score > 0: helpful)
        for eps in (0.01, 0.1, 0.5, 1.0):
            f = evaluate(retrain(res, data, 1 - eps * d).model, data.test)["losses"].double()[tid]
            row[eps] = ((f - f0) / eps).tolist()
        rows.append(row)
        print(f"subset {j}: MAGIC {_r(row['magic'])} | slope over 1%: {_r(row[0.01])}, 10%: {_r(row[0.1])}, "
              f"50%: {_r(row[0.5])}, 100%: {_r(row[1.0])}", flush=True)
    return rows

def _r(v): return "[" + ", ".join(f"{x:+.3f}" for x in v) + "]"

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("variants", nargs="*", default=["{}"], help="JSON overrides of the CPU config")
    ap.add_argument("--warm", action="store_true", help="start from the warm start (else: random initialization)")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--line", action="store_true", help="the line probe of the first variant (see above)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    root = shared_data_dir()
    if root is None: raise SystemExit("the shared data folder (../shared/data) is absent")
    warm = warm_start(root, Path("outputs/cifar10_lds_warm/warm_start.pt")) if a.warm else None
    rows, data = [], None
    if a.line:
        cfg = cpu_config(root/"cifar10_subset", warm=warm, overrides=json.loads(a.variants[0]))
        return line(cfg, load_data(cfg.data, DTYPES[cfg.train.dtype]))
    for v in a.variants:
        cfg = cpu_config(root/"cifar10_subset", warm=warm, overrides=json.loads(v))
        if data is None: data = load_data(cfg.data, DTYPES[cfg.train.dtype])
        r = pilot(cfg, data, a.m)
        rows.append({"variant": v, **r})
        print(f"{v} | acc {r['accuracy']:.3f} | train {r['train_s']:.1f} s | MAGIC (4 targets) {r['magic_s']:.1f} s "
              f"| LDS {r['lds']:.3f} {r['per_target']}", flush=True)
    return rows

if __name__ == "__main__": main()
