"""The reader walk (`idl-book walk`): what it calls a fault, and its errors when it cannot walk.

The browser part needs Chromium and Playwright, which CI does not have; the judging of a page's
measurement is a pure function, checked here against a clean page and one planted fault of each kind.
"""

import importlib.util

import pytest

from idl_book import cli
from idl_book.walk import MAX_VISIBLE_CODE_LINES, WalkError, book_faults, faults, report, walk

CLEAN = {"column": 752, "codeLines": 12, "height": 5000, "scrolls": [], "wide": [], "index": [], "snake": [],
         "figures": [{"alt": "Learning curves per seed", "caption": "Training and validation accuracy per epoch."}],
         "links": [], "reprs": [], "dumps": []}


def test_a_clean_page_has_no_faults():
    assert faults(CLEAN) == []
    text, n = report({"book/a.html": CLEAN})
    assert n == 0 and "no faults" in text


@pytest.mark.parametrize("planted, word", [
    ({"scrolls": [{"what": "pre", "width": 900, "text": "x = 1"}]}, "scrolls sideways"),
    ({"wide": [{"width": 900, "text": "model accuracy"}]}, "table wider"),
    ({"index": ["\tsentences\tpredicted tokens"]}, "unnamed index"),
    ({"snake": ["test_acc"]}, "snake_case header: test_acc"),
    ({"reprs": ["<torch._C.Generator object at 0x7f00>"]}, "raw repr"),
    ({"dumps": ["dev_sentences = None"]}, "settings dump"),
    ({"figures": [{"alt": "Bars per rung", "caption": ""}]}, "without a caption"),
    ({"figures": [{"alt": "../../_images/7eebb2788c849aa24bb4c2e457826123.png", "caption": "The ladder."}]},
     "without real alt text"),
    ({"figures": [{"alt": "", "caption": "The ladder."}]}, "without real alt text"),
    ({"links": ["https://github.com/OWNER/idl-book"]}, "placeholder link"),
])
def test_each_planted_fault_is_found(planted, word):
    found = faults({**CLEAN, **planted})
    assert len(found) == 1 and word in found[0], found


def test_too_much_unfolded_code_is_a_fault_of_the_book():
    per_page = MAX_VISIBLE_CODE_LINES // 2 + 1
    pages = {"book/a.html": {**CLEAN, "codeLines": per_page}, "book/b.html": {**CLEAN, "codeLines": per_page}}
    assert faults(pages["book/a.html"]) == [] and len(book_faults(pages)) == 1
    assert book_faults({"book/a.html": CLEAN}) == []
    assert report(pages)[1] == 1


def test_walk_without_a_built_book_says_how_to_get_one(tmp_path, capsys):
    with pytest.raises(WalkError, match="idl-book build"):
        walk(tmp_path)
    assert cli.main(["walk", "--html", str(tmp_path / "nowhere")]) == 2
    assert "no built book here" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("playwright") is not None, reason="Playwright is installed here")
def test_walk_without_playwright_says_what_to_install(tmp_path):
    (tmp_path / "book").mkdir()
    with pytest.raises(WalkError, match="pip install playwright"):
        walk(tmp_path)
