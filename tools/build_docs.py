"""Build the HTML docs locally without quarto: nbdev's processing (hidden cells removed, show_doc rendered), then
nbconvert to _docs/*.html with an index page. With quarto available (the deploy workflow), use `nbdev_docs`."""
import shutil
from pathlib import Path
import nbformat
from nbconvert import HTMLExporter
from nbdev.config import get_config
from nbdev.serve import proc_nbs

def main():
    cfg = get_config(); out = Path(cfg.config_path)/cfg.doc_path; out.mkdir(exist_ok=True)
    cache = proc_nbs(cfg.nbs_path)
    ex = HTMLExporter(template_name="lab"); links = []
    for nbp in sorted(Path(cache).rglob("*.ipynb")):
        if any(part.startswith(("_", ".")) for part in nbp.relative_to(cache).parts): continue
        nb = nbformat.read(nbp, as_version=4)
        html, _ = ex.from_notebook_node(nb)
        name = nbp.stem.split("_", 1)[1] if nbp.stem[:2].isdigit() else nbp.stem
        (out/f"{name}.html").write_text(html); links.append((name, nbp.stem))
    for sub in ("benchmarks",):
        src = Path(cfg.config_path)/sub/"results"
        if src.is_dir(): shutil.copytree(src, out/sub, dirs_exist_ok=True)
    items = "\n".join(f'<li><a href="{n}.html">{s}</a></li>' for n, s in links)
    (out/"toc.html").write_text(f"<html><body><h1>{cfg.title}</h1><ul>{items}</ul></body></html>")
    print(f"wrote {len(links)} pages to {out}")

if __name__ == "__main__": main()
