"""The package must be exactly what `nbdev_export` makes of the notebooks, and the notebooks must be clean.

Both checks run on a temporary copy, so they never modify the working tree."""
import filecmp, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _copy(tmp):
    for name in ("nbs", "influence_nb"):
        shutil.copytree(ROOT/name, tmp/name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "_proc"))
    for name in ("settings.ini", "setup.py"): shutil.copy(ROOT/name, tmp/name)
    return tmp

def _bin(name): return str(Path(sys.executable).parent/name)

def _diff(a:Path, b:Path, pattern):
    out = []
    for f in sorted(a.rglob(pattern)):
        if "__pycache__" in f.parts or "_proc" in f.parts: continue
        g = b/f.relative_to(a)
        if not g.exists() or not filecmp.cmp(f, g, shallow=False): out.append(str(f.relative_to(a)))
    for g in sorted(b.rglob(pattern)):
        if "__pycache__" in g.parts: continue
        if not (a/g.relative_to(b)).exists(): out.append(str(g.relative_to(b)) + " (new)")
    return out

def test_package_matches_notebooks(tmp_path):
    t = _copy(tmp_path)
    subprocess.run([_bin("nbdev_export")], cwd=t, check=True, capture_output=True)
    bad = _diff(ROOT/"influence_nb", t/"influence_nb", "*.py")
    assert not bad, f"influence_nb/ is out of sync with nbs/ in {bad}: run nbdev_export and commit"

def test_notebooks_are_clean(tmp_path):
    t = _copy(tmp_path)
    subprocess.run([_bin("nbdev_clean")], cwd=t, check=True, capture_output=True)
    bad = _diff(ROOT/"nbs", t/"nbs", "*.ipynb")
    assert not bad, f"notebooks not clean: {bad}: run nbdev_clean and commit"
