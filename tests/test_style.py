"""The project's style rules, checked on the notebooks (the source) and the exported package.

- code lines are at most 120 characters;
- statements are never joined with `;`;
- the docs speak of the project only: no references to work-tracking ("the issue", "the seed's", "target met")
  and no paths outside the repository.
Run alone: `python -m pytest tests/test_style.py`; `python tests/test_style.py` lists every violation."""
import ast, io, json, re, sys, tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINE = 120
BANNED_DOC = [r"\bthe issue\b", r"\bthe seed's\b", r"\btarget met\b", r"\.\./shared", r"/work/"]

def _notebooks(): return sorted(p for p in (ROOT/"nbs").glob("*.ipynb") if not p.name.startswith(("_", ".")))

def _cells(path):
    for i, c in enumerate(json.loads(path.read_text())["cells"]):
        yield i, c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]

def _semicolons(src:str)->list:
    "Line numbers where `;` joins statements (found with the tokenizer: strings and comments do not count)."
    lines = "\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!")))
    try: toks = list(tokenize.generate_tokens(io.StringIO(lines).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError): return []
    return [t.start[0] for t in toks if t.type == tokenize.OP and t.string == ";"]

def violations()->list:
    out = []
    for nb in _notebooks():
        for i, kind, src in _cells(nb):
            where = f"{nb.name} cell {i}"
            if kind == "code":
                out += [f"{where} line {j + 1}: {len(l)} > {MAX_LINE} characters"
                        for j, l in enumerate(src.splitlines()) if len(l) > MAX_LINE]
                out += [f"{where} line {j}: statements joined with ';'" for j in _semicolons(src)]
            else:
                out += [f"{where}: docs mention {pat!r}" for pat in BANNED_DOC if re.search(pat, src, re.I)]
    for py in sorted((ROOT/"influence_nb").glob("*.py")):
        if py.name == "_modidx.py": continue
        generated = False  # nbdev's header: the module docstring (the notebook's subtitle) and `__all__`
        for j, l in enumerate(py.read_text().splitlines()):
            if l.startswith("# %%"): generated = l.startswith("# %% auto")
            if generated or j == 0: continue
            if len(l) > MAX_LINE: out.append(f"influence_nb/{py.name} line {j + 1}: {len(l)} > {MAX_LINE} characters")
    return out

def import_graph()->dict:
    "module -> the package modules it imports at module level (relative imports of exported code)."
    g = {}
    for py in sorted((ROOT/"influence_nb").glob("*.py")):
        if py.name.startswith("_"): continue
        deps = set()
        for node in ast.parse(py.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps.add(node.module.split(".")[0] if node.module else "")
        g[py.stem] = sorted(d for d in deps if d)
    return g

def cycles(g:dict)->list:
    "Every import cycle of `g`, as a list of module names."
    out, state = [], {}
    def visit(m, path):
        state[m] = 1
        for d in g.get(m, []):
            if state.get(d) == 1: out.append(path[path.index(d):] + [d])
            elif d not in state: visit(d, path + [d])
        state[m] = 2
    for m in g:
        if m not in state: visit(m, [m])
    return out

def test_import_graph_has_no_cycle():
    assert not cycles(import_graph()), f"import cycles: {cycles(import_graph())}"

def test_style():
    bad = violations()
    assert not bad, f"{len(bad)} style violations:\n" + "\n".join(bad[:60])

if __name__ == "__main__":
    v = violations()
    print("\n".join(v))
    print(f"{len(v)} violations")
    sys.exit(1 if v else 0)
