"""CUDA smoke check for influence_nb.influence / loo: the same scores on cuda as on cpu (float64), every solver and
mode, the disk gradient cache, self-influence and a LOO retrain. Prints max relative differences; exits 1 on mismatch.

    PYTHONPATH=. python3 benchmarks/gpu_check_influence.py
"""
import sys, tempfile, time
import torch
from influence_nb.data import DataConfig, load_data
from influence_nb.models import ModelConfig
from influence_nb.train import OptimConfig, RunConfig, TrainConfig, train
from influence_nb.influence import if_scores, if_self_influence, s_test, if_all_tests
from influence_nb.loo import loo_retrain

assert torch.cuda.is_available(), "no CUDA"
ds = load_data(DataConfig(), torch.float64)
out, ok = {}, True
def rel(a, b): return float((a.cpu() - b.cpu()).norm() / b.cpu().norm())
for dev in ("cpu", "cuda"):
    cfg = RunConfig(model=ModelConfig(name="logreg"), optim=OptimConfig(weight_decay=1e-2), train=TrainConfig(trainer="lbfgs", device=dev, epochs=3))
    res = train(cfg, ds, progress=False)
    cfg_m = RunConfig(model=ModelConfig(name="mlp", hidden=(16,)), train=TrainConfig(epochs=5, device=dev))
    res_m = train(cfg_m, ds, progress=False)
    t0 = time.time(); r = {}
    r["exact"] = if_scores(res, ds, range(20), progress=False)
    r["cg"] = if_scores(res, ds, range(20), solver="cg", progress=False)
    r["lissa_full"] = if_scores(res, ds, range(20), solver="lissa", progress=False, recursion_depth=800, scale=0.4, batch_size=len(ds.train))
    with tempfile.TemporaryDirectory() as d:
        r["grads_first_disk"] = if_scores(res, ds, range(20), mode="grads_first", cache_dir=d, progress=False)
        recs = if_all_tests(res, ds, d + "/all", test_ids=range(3), progress=False)
        r["loo"] = torch.tensor([v for k, v in sorted(loo_retrain(res, ds, 0, [1, 2], d + "/loo.jsonl", progress=False).items())])
    r["self"] = if_self_influence(res, ds, progress=False)
    r["mlp_exact"] = if_scores(res_m, ds, range(5), progress=False)
    r["mlp_cg"] = if_scores(res_m, ds, range(5), solver="cg", progress=False)
    r["margin"] = if_scores(res, ds, range(5), measure="margin", progress=False)
    out[dev] = r; print(dev, f"{time.time() - t0:.1f}s", flush=True)
for k in out["cpu"]:
    e = rel(out["cuda"][k], out["cpu"][k]); print(f"{k:18s} cuda vs cpu rel. diff {e:.2e}")
    ok &= e < 1e-6
e = rel(out["cuda"]["cg"], out["cuda"]["exact"]); print(f"cuda cg vs exact {e:.2e}"); ok &= e < 1e-6
print("OK" if ok else "MISMATCH"); sys.exit(0 if ok else 1)
