"""Run every nbdev notebook as one pytest test, with `nbdev_test` semantics (tst_flags, `eval: false`, `skip_exec`).

Extra flags to run (e.g. the slow cells): NBDEV_TEST_FLAGS="slow" pytest tests
"""
import os
from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as _run_nb   # alias: a name starting with `test_` would be collected by pytest

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
    ok, _secs = _run_nb(nb, skip_flags=_skip, force_flags=_force, basepath=_cfg.config_path)
    assert ok, f'{nb.name}: a cell raised (traceback printed above)'
