"""Rewrite code cells so that no statements are joined with `;` (the project's style rule).

    python tools/split_semicolons.py nbs/XX.ipynb [more notebooks]

`a; b` becomes two lines; `if c: a; b` (and for/while/with/def/else/elif/except/finally headers) becomes a block.
Each rewritten cell is checked to compile to the same AST as before (`if c: a; b` and its block form are equal)."""
import ast, io, json, sys, tokenize
from pathlib import Path

HEADS = ("else", "elif", "except", "finally", "try")

def _depth0(line:str, ch:str)->list:
    "Columns of `ch` operators at bracket depth 0 in a one-line string (tokenizer; strings/comments skipped)."
    out, depth = [], 0
    try:
        for t in tokenize.generate_tokens(io.StringIO(line).readline):
            if t.type != tokenize.OP: continue
            if t.string in "([{": depth += 1
            elif t.string in ")]}": depth -= 1
            elif t.string == ch and depth == 0: out.append(t.start[1])
    except (tokenize.TokenError, IndentationError): return []
    return out

def _header_end(stmt:str)->int:
    "Column where the inline body of a compound statement starts (-1 if `stmt` is simple)."
    s = stmt.strip()
    if s.split(":")[0].split(" ")[0] in HEADS or s.startswith(("else:", "try:", "finally:")):
        cols = _depth0(stmt, ":")
        return cols[0] + 1 if cols else -1
    try: node = ast.parse(s).body[0]
    except SyntaxError: return -1
    if not hasattr(node, "body") or isinstance(node, (ast.ClassDef,)) and not node.body: return -1
    if isinstance(node, ast.Expr): return -1
    return len(stmt) - len(stmt.lstrip()) + node.body[0].col_offset

def split_line(line:str)->list:
    cols = _depth0(line, ";")
    if not cols: return [line]
    ind = line[:len(line) - len(line.lstrip())]
    segs, prev = [], 0
    for c in cols:
        segs.append(line[prev:c])
        prev = c + 1
    segs.append(line[prev:])
    segs = [s.strip() for s in segs if s.strip()]
    h = _header_end(ind + segs[0])
    if h > 0:
        first = ind + segs[0]
        head, body0 = first[:h].rstrip(), first[h:].strip()
        return [head] + [ind + "    " + s for s in [body0] + segs[1:]]
    return [ind + s for s in segs]

def fix_source(src:str)->str:
    out = []
    for line in src.split("\n"):
        out += split_line(line) if ";" in line and not line.lstrip().startswith(("#", "%", "!")) else [line]
    return "\n".join(out)

def _same(a:str, b:str)->bool:
    try: return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b))
    except SyntaxError: return False

def fix_notebook(path)->int:
    path = Path(path)
    nb, n = json.loads(path.read_text()), 0
    for c in nb["cells"]:
        if c["cell_type"] != "code": continue
        src = "".join(c["source"])
        new = fix_source(src)
        if new == src: continue
        clean = lambda s: "\n".join(l for l in s.split("\n") if not l.lstrip().startswith(("%", "!")))
        if not _same(clean(src), clean(new)):
            print(f"{path.name}: cell not rewritten (AST would change):\n{src[:300]}", file=sys.stderr)
            continue
        c["source"] = new.splitlines(keepends=True)
        n += 1
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return n

if __name__ == "__main__":
    for p in sys.argv[1:]: print(p, fix_notebook(p), "cells rewritten")
