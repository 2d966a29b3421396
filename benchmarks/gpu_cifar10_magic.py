"""MAGIC on full CIFAR-10 with the `cifar10-resnet9-magic` recipe, on one GPU: train, score 64 targets, check them
against 50 retrained models at 5% drops (LDS).

**Not run on a GPU yet**: no device was lent to the session that wrote it; only `--tiny` (CPU) has run. Its
defaults are sized from CPU measurements, not GPU ones: on this BatchNorm network MAGIC costs about 2.5-4 training
runs per target (the reverse pass differentiates through every step once per target), so 64 targets and 50
retrains are about 200-300 training runs; at the recipe's architecture, optimizer and schedule with base width 16
(MAGIC's is 160) and 4 epochs of batch 1024 on all 50,000 training images, that is meant to fit in about 10
minutes. The printed "× training" column shows where the time went; `--width 160 --epochs 16` is the full recipe
(about 100× the cost).

Data: `../shared/data/cifar10_jpeg`, JPEG re-encodes of CIFAR-10 (**lossy**: mean absolute pixel error about 5.8
of 255; labels and order are exact). Targets: the first `--targets` test images of a seeded test subset.
Printed: seconds and peak memory per stage (data, train, MAGIC, ground truth), test accuracy, the replay error, the
LDS with its bootstrap interval. CUDA runs use deterministic kernels (`train` sets them on CUDA).

    python benchmarks/gpu_cifar10_magic.py               # the GPU run
    python benchmarks/gpu_cifar10_magic.py --tiny        # seconds on a CPU (64 images, width 2, float64)
"""
import argparse, logging, time
from pathlib import Path

import torch

from influence_nb.cifar import MAGIC_RECIPE  # registers the model, the dataset and the preset
from influence_nb.data import load_data, shared_data_dir
from influence_nb.lds import get_subsets, ground_truth, lds, peak_memory
from influence_nb.magic import magic_scores
from influence_nb.pipeline import resolve_config
from influence_nb.train import DTYPES, evaluate as eval_model, resolve_device, train

log = logging.getLogger("gpu_cifar10_magic")

def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--width", type=int, default=16, help="base width (the recipe's is 160)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--n-test", type=int, default=1000, help="seeded test subset (targets are its first ids)")
    ap.add_argument("--targets", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=16, help="MAGIC targets per reverse pass (memory)")
    ap.add_argument("--m", type=int, default=50, help="retrained subset models")
    ap.add_argument("--p", type=float, default=0.05, help="fraction of the training set each subset drops")
    ap.add_argument("--dtype", default="float32", choices=list(DTYPES))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default="outputs/gpu_cifar10_magic", help="ground truth folder (resumable)")
    ap.add_argument("--tiny", action="store_true", help="a CPU smoke size: 64 training images, width 2, float64")
    a = ap.parse_args(argv)
    if a.tiny:
        a.width, a.epochs, a.batch_size, a.n_test, a.targets, a.chunk, a.m = 2, 1, 16, 8, 2, 2, 4
        a.dtype, a.device, n_train = "float64", "cpu", 64
    else: n_train = None
    return a, n_train

def config(a, n_train, root):
    "The preset at the size of the arguments."
    return resolve_config("cifar10-resnet9-magic", overrides={
        "data.root": str(root), "data.n_train": n_train, "data.n_test": a.n_test, "model.width": a.width,
        "train.epochs": a.epochs, "train.batch_size": a.batch_size, "train.dtype": a.dtype,
        "train.device": a.device, "train.checkpoints": "none"})

def _stage(name, dev, fn, stages):
    "Run `fn()`, recording its seconds and peak memory under `name`."
    if dev.type == "cuda": torch.cuda.synchronize(dev)
    with peak_memory(dev) as pm:
        t = time.perf_counter()
        out = fn()
        if dev.type == "cuda": torch.cuda.synchronize(dev)
        secs = time.perf_counter() - t
    stages[name] = {"seconds": secs, "peak_mib": None if pm["bytes"] is None else pm["bytes"] / 2**20,
                    "memory": pm["what"]}
    log.info("%s: %.1f s", name, secs)
    return out

def main(argv=None)->dict:
    "Run the stages; returns the run, data, scores, ground truth, LDS and the per-stage table."
    a, n_train = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    root = shared_data_dir()
    if root is None or not (root/"cifar10_jpeg").is_dir(): raise SystemExit("../shared/data/cifar10_jpeg is absent")
    cfg = config(a, n_train, root/"cifar10_jpeg")
    dev, stages = resolve_device(cfg.train.device), {}
    data = _stage("data (decode JPEGs)", dev, lambda: load_data(cfg.data, DTYPES[cfg.train.dtype]), stages)
    res = _stage("train", dev, lambda: train(cfg, data, progress=False), stages)
    acc = eval_model(res.model, data.test)["accuracy"]
    tid = list(range(min(a.targets, len(data.test))))
    def magic():
        parts, infos = [], []
        for c in range(0, len(tid), a.chunk):
            S, info = magic_scores(res, data, tid[c:c + a.chunk], progress=False, return_info=True)
            parts.append(S)
            infos.append(info)
        return torch.cat(parts), infos
    S, infos = _stage(f"MAGIC ({len(tid)} targets)", dev, magic, stages)
    sub = get_subsets(Path(a.out)/f"subsets_p{a.p}.pt", cfg, len(data.train), a.p, a.m, 0)
    gt = _stage(f"ground truth ({a.m} retrains)", dev, lambda: ground_truth(
        cfg, data, sub, Path(a.out)/f"gt_p{a.p}", target_ids=tid, progress=False, checks=False), stages)
    r = lds(S, sub, gt["losses"], gt["base_losses"], n_boot=1000, seed=0)
    replay = max(float(i.get("replay_error") or 0.0) for i in infos)
    T = stages["train"]["seconds"]
    lines = [f"config {cfg.config_hash()}: {len(data.train)} training images, width {a.width}, {a.epochs} epochs, "
             f"batch {a.batch_size}, {cfg.train.dtype} on {dev}" + (f" ({torch.cuda.get_device_name(dev)})"
                                                                     if dev.type == "cuda" else ""),
             "| stage | seconds | × training | peak memory (MiB) |", "|---|---|---|---|"]
    for k, v in stages.items():
        mem = "—" if v["peak_mib"] is None else f"{v['peak_mib']:.0f} ({v['memory']})"
        lines.append(f"| {k} | {v['seconds']:.1f} | {v['seconds'] / T:.1f} | {mem} |")
    lines += [f"test accuracy {acc:.3f}; replay error {replay:.1e}; "
              f"MAGIC LDS at p={a.p}: {r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] "
              f"({len(tid)} targets, {a.m} retrains); total {sum(v['seconds'] for v in stages.values()):.0f} s"]
    print("\n".join(lines))
    return {"cfg": cfg, "res": res, "data": data, "scores": S, "target_ids": tid, "subsets": sub, "gt": gt,
            "lds": r, "stages": stages, "accuracy": acc, "replay_error": replay, "table": "\n".join(lines)}

if __name__ == "__main__": main()
