"""The book's pages: which source notebooks there are, in what order they run, which of them
summarise the others, and which profile an executed page shows. The runner, the page status
and the Sphinx extension all read the book through this module (none of them imports another
for it)."""

from __future__ import annotations

import json
from pathlib import Path

from idl_helpers.core import environment

#: notebooks that summarise the others run after them, in this order
RUN_LAST = ("scorecard",)


def discover(source_root: Path | None = None) -> list[Path]:
    """Source notebooks, part by part and page by page, summaries (``RUN_LAST``) at the end."""
    root = Path(source_root) if source_root else environment.notebooks_dir()
    found = [p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts]
    def key(p: Path):
        last = RUN_LAST.index(p.stem) if p.stem in RUN_LAST else -1
        return (last, p.relative_to(root).as_posix())
    return sorted(found, key=key)


def is_summary(path: Path) -> bool:
    """A page that shows other pages' recorded numbers: it runs after every other page of the run,
    one at a time, and its inputs include the results. Such a page reads them with ``results.load``
    in its own code, or says so in its metadata (``"idl_book": {"summary": true}``) when the reading
    happens in an experiments module (``tests/test_runner.py`` checks that every page whose code
    reaches ``results.load`` is one)."""
    if path.stem in RUN_LAST:
        return True
    try:
        nb = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return False
    if (nb.get("metadata", {}).get("idl_book") or {}).get("summary") is True:
        return True
    cells = nb.get("cells", [])
    return any("results.load(" in "".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")


def executed_profile(path: Path) -> str | None:
    """The profile an executed notebook in the book was run with (papermill's metadata), if any."""
    try:
        return json.loads(Path(path).read_text())["metadata"]["papermill"]["parameters"]["profile"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
