"""Small notebook editor for the project's nbdev notebooks (cells in, cells out, from the shell).

    python tools/nb.py ls NB                     cells: index, type, id, first line
    python tools/nb.py cat NB I [J]              sources of cells I..J (inclusive)
    python tools/nb.py grep NB TEXT              cells whose source contains TEXT
    python tools/nb.py set NB I FILE|-           replace cell I with the cell(s) in FILE (stdin with -)
    python tools/nb.py ins NB I FILE|-           insert the cell(s) in FILE before cell I (I = len: append)
    python tools/nb.py rm NB I [J]               delete cells I..J
    python tools/nb.py new NB FILE|-             create a notebook from the cells in FILE

FILE holds one or more cells separated by lines `#%% code` or `#%% md` (a file without a separator is one code cell;
a first separator line sets the type of the first cell). Edited code cells lose their outputs; run
`python tools/run_nbs.py NB` to store outputs again and `nbdev_clean` before committing."""
import json, sys, uuid
from pathlib import Path

META = {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}}

def _read(p): return json.loads(Path(p).read_text())
def _write(p, nb): Path(p).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
def _src(c): return "".join(c["source"]) if isinstance(c["source"], list) else c["source"]

def _cell(kind, text):
    text = text.strip("\n")
    lines = text.splitlines(keepends=True)
    c = {"cell_type": "markdown" if kind == "md" else "code", "id": uuid.uuid4().hex[:8], "metadata": {}, "source": lines}
    if kind != "md": c.update(execution_count=None, outputs=[])
    return c

def parse(text):
    "Cells of a FILE: `#%% code` / `#%% md` separators."
    cells, kind, buf = [], "code", []
    for line in text.splitlines(keepends=True):
        s = line.strip()
        if s.startswith("#%%") and s[3:].strip() in ("", "code", "md"):
            if "".join(buf).strip(): cells.append(_cell(kind, "".join(buf)))
            kind, buf = ("md" if s[3:].strip() == "md" else "code"), []
        else: buf.append(line)
    if "".join(buf).strip(): cells.append(_cell(kind, "".join(buf)))
    return cells

def _text(f): return sys.stdin.read() if f == "-" else Path(f).read_text()

def main(a):
    cmd, p = a[0], a[1]
    if cmd == "new": return _write(p, {"cells": parse(_text(a[2])), "metadata": META, "nbformat": 4, "nbformat_minor": 5})
    nb = _read(p); cells = nb["cells"]
    if cmd == "ls":
        for i, c in enumerate(cells):
            s = _src(c); first = s.splitlines()[0] if s else ""
            print(f"{i:3d} {c['cell_type'][:4]:4s} {len(s.splitlines()):4d}L  {first[:100]}")
    elif cmd == "cat":
        i = int(a[2]); j = int(a[3]) if len(a) > 3 else i
        for k in range(i, j + 1): print(f"#%% {'md' if cells[k]['cell_type'] == 'markdown' else 'code'}  [{k}]\n{_src(cells[k])}")
    elif cmd == "grep":
        for i, c in enumerate(cells):
            if a[2] in _src(c): print(f"{i:3d} {c['cell_type'][:4]} " + _src(c).splitlines()[0][:100])
    elif cmd == "set":
        i = int(a[2]); new = parse(_text(a[3]))
        if new and len(new) == 1 and new[0]["cell_type"] == cells[i]["cell_type"]: new[0]["id"] = cells[i].get("id", new[0]["id"])
        cells[i:i + 1] = new; _write(p, nb)
    elif cmd == "ins":
        i = int(a[2]); cells[i:i] = parse(_text(a[3])); _write(p, nb)
    elif cmd == "rm":
        i = int(a[2]); j = int(a[3]) if len(a) > 3 else i
        del cells[i:j + 1]; _write(p, nb)
    else: raise SystemExit(__doc__)

if __name__ == "__main__":
    if len(sys.argv) < 3: raise SystemExit(__doc__)
    main(sys.argv[1:])
