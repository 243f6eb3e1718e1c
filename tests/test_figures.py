"""idl_book.figures: a figure's caption and name reach only the figure, never a table beside it."""

import copy

from idl_book.figures import split_figure_cells

IMG = {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}, "metadata": {}}
TABLE = {"output_type": "execute_result", "data": {"text/html": "<table/>", "text/plain": "t"}, "metadata": {},
         "execution_count": 3}
TEXT = {"output_type": "stream", "name": "stdout", "text": "done\n"}
FIG = {"figure": {"caption": "What the curve shows.", "name": "fig-x"}, "image": {"alt": "A line chart."}}


def _cell(outputs, **meta):
    return {"cell_type": "code", "id": "a1", "execution_count": 3, "source": "page.figure()",
            "metadata": {"tags": ["hide-input"], "mystnb": copy.deepcopy(FIG), **meta}, "outputs": outputs}


def test_a_figure_with_a_table_after_it_is_split_in_reading_order():
    nb = {"cells": [_cell([TEXT, IMG, TABLE])]}
    assert split_figure_cells(nb) == 1
    first, fig, rest = nb["cells"]
    assert first["source"] == "page.figure()" and first["outputs"] == [TEXT] and "mystnb" not in first["metadata"]
    assert fig["outputs"] == [IMG] and fig["metadata"]["mystnb"] == FIG and "remove-input" in fig["metadata"]["tags"]
    assert rest["outputs"] == [TABLE] and "mystnb" not in rest["metadata"] and rest["source"] == ""
    assert len({c["id"] for c in nb["cells"]}) == 3


def test_several_images_get_distinct_names_and_a_lone_figure_is_left_alone():
    nb = {"cells": [_cell([IMG, IMG])]}
    split_figure_cells(nb)
    names = [c["metadata"]["mystnb"]["figure"]["name"] for c in nb["cells"] if c["outputs"] == [IMG]]
    assert names == ["fig-x-1", "fig-x-2"]
    alone = {"cells": [_cell([IMG])]}
    before = copy.deepcopy(alone)
    assert split_figure_cells(alone) == 0 and alone == before
    plain = {"cells": [{**_cell([IMG, TABLE]), "metadata": {}}]}
    assert split_figure_cells(plain) == 0
