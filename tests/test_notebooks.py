"""Run every nbdev notebook as one pytest test, with `nbdev_test` semantics (tst_flags, `eval: false`, `skip_exec`).

Extra flags to run (e.g. the slow cells): NBDEV_TEST_FLAGS="slow" pytest tests
"""
import os, subprocess, sys
from pathlib import Path
import pytest
from nbdev.config import get_config

_cfg = get_config()
_skip = _cfg.tst_flags.split() if isinstance(_cfg.tst_flags, str) else list(_cfg.tst_flags)
_force = os.environ.get('NBDEV_TEST_FLAGS', '').split()
_nbs_path = Path(_cfg.nbs_path)
_NBS = sorted(p for p in _nbs_path.rglob('*.ipynb')
              if not any(part.startswith(('_', '.')) for part in p.relative_to(_nbs_path).parts))

def test_found_notebooks():
    "An empty or misplaced nbs/ must fail, not pass vacuously."
    assert len(_NBS) >= 5, f"expected the project's notebooks under {_nbs_path}, found {len(_NBS)}"

@pytest.mark.parametrize('nb', _NBS, ids=[str(p.relative_to(_nbs_path)) for p in _NBS])
def test_notebook(nb):
    # each notebook in its own process: a notebook re-runs the package's registering cells (optimizers, methods, ...)
    # in its shell, and those entries must not leak into the next notebook's registries
    code = ("import sys; from pathlib import Path; from nbdev.test import test_nb; "
            "ok, _ = test_nb(Path(sys.argv[1]), skip_flags=sys.argv[2].split(), force_flags=sys.argv[3].split(), "
            "basepath=sys.argv[4]); sys.exit(0 if ok else 1)")
    r = subprocess.run([sys.executable, "-c", code, str(nb), " ".join(_skip), " ".join(_force), str(_cfg.config_path)])
    assert r.returncode == 0, f'{nb.name}: a cell raised (traceback printed above)'
