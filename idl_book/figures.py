"""A Sphinx extension: a figure's caption, name and alt text go to the figure, and only to it.

A page gives a figure its caption with MyST-NB's cell metadata (``"mystnb": {"figure": {"caption":
…, "name": …}, "image": {"alt": …}}``). MyST-NB applies that metadata to *every* output of the cell,
so a cell that draws a figure and also shows a table (or glues a number, or prints a line) would
wrap the table in a second figure with the same caption and the same name — a duplicate target,
which ``build -W`` rightly refuses. When the book is read (``source-read``, on the text Sphinx
hands to MyST-NB; the executed notebooks on disk are not touched), each such cell is split in
reading order: the cell itself keeps its code and the outputs up to the first image, each image
becomes a cell of its own carrying the figure and image metadata, and the outputs after it a cell
without them. The added cells have no code (``remove-input``). Nothing computed changes, and a
page does not go stale: this module is not a page input.
"""

from __future__ import annotations

import copy
import json

_IMAGE = ("image/png", "image/jpeg", "image/svg+xml")


def _is_image(output: dict) -> bool:
    return any(k in (output.get("data") or {}) for k in _IMAGE)


def split_figure_cells(nb: dict) -> int:
    """Split every code cell with figure metadata so that only image outputs carry it; returns
    how many cells were split."""
    cells, split = [], 0
    for cell in nb.get("cells", []):
        meta = cell.get("metadata") or {}
        mystnb = meta.get("mystnb") or {}
        outputs = cell.get("outputs") or []
        if cell.get("cell_type") != "code" or not mystnb.get("figure") or \
                all(_is_image(o) for o in outputs) and sum(map(_is_image, outputs)) <= 1:
            cells.append(cell)
            continue
        split += 1
        plain_meta = copy.deepcopy(meta)
        plain_meta["mystnb"] = {k: v for k, v in mystnb.items() if k not in ("figure", "image")}
        if not plain_meta["mystnb"]:
            del plain_meta["mystnb"]
        first = {**cell, "metadata": plain_meta, "outputs": []}
        cells.append(first)
        current = first
        for i, out in enumerate(outputs):
            if _is_image(out):
                fig_meta = copy.deepcopy(meta)
                tags = [t for t in fig_meta.get("tags", []) if t not in ("hide-input", "remove-input")]
                fig_meta["tags"] = tags + ["remove-input"]
                if sum(map(_is_image, outputs)) > 1 and fig_meta["mystnb"]["figure"].get("name"):
                    n = sum(map(_is_image, outputs[: i + 1]))
                    fig_meta["mystnb"]["figure"]["name"] = f"{fig_meta['mystnb']['figure']['name']}-{n}"
                cells.append({"cell_type": "code", "execution_count": None, "id": f"{cell.get('id', 'c')}-fig{i}",
                              "metadata": fig_meta, "outputs": [out], "source": ""})
                current = None
            else:
                if current is None:
                    current = {"cell_type": "code", "execution_count": None, "id": f"{cell.get('id', 'c')}-out{i}",
                               "metadata": {**plain_meta, "tags": [t for t in plain_meta.get("tags", [])
                                                                  if t not in ("hide-input", "remove-input")]
                                            + ["remove-input"]}, "outputs": [], "source": ""}
                    cells.append(current)
                current["outputs"].append(out)
    nb["cells"] = cells
    return split


def _source_read(app, docname: str, source: list[str]) -> None:
    if not docname.startswith("book/"):
        return
    text = source[0]
    if not text.lstrip().startswith("{") or '"figure"' not in text:
        return
    try:
        nb = json.loads(text)
    except ValueError:
        return  # not a notebook (or a damaged one: the status banner says so)
    if split_figure_cells(nb):
        source[0] = json.dumps(nb)


def setup(app):
    app.connect("source-read", _source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
