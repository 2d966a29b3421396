"""Execute notebooks in place and save their outputs (what the docs and README show).

nbdev 2 has no `nbdev_test --save`; this runs a notebook the way `nbdev_test` does (execnb's in-process shell, in
the notebook's folder, skipping `#| eval: false` cells and cells flagged with tst_flags) and writes the outputs
back. Usage: python tools/run_nbs.py nbs/index.ipynb [more notebooks]"""
import os, sys
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.config import get_config

def _directives(src):
    d = {}
    for line in src.splitlines():
        if not line.startswith("#|"): break
        parts = line[2:].strip().split()
        if parts: d[parts[0]] = parts[1:]
    return d

def run(path):
    path = Path(path).resolve(); skip = set(get_config().tst_flags.split())
    os.environ["IN_TEST"] = "1"
    nb = read_nb(path)
    def _no_eval(cell):
        if cell.cell_type != 'code': return True
        if 'nbdev_export' + '(' in cell.source: return True
        d = _directives(cell.source)
        if d.get('eval:', [''])[0].lower() == 'false': return True
        return bool(skip & d.keys())
    sh = CaptureShell(path)
    with working_directory(path.parent): sh.run_all(nb, exc_stop=True, preproc=_no_eval)
    write_nb(nb, path); print("ran and saved", path)

if __name__ == "__main__":
    for p in sys.argv[1:]: run(p)
