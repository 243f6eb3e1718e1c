"""Navigation: one sidebar entry per part, a Questions page that reaches every question id in
one click, part index pages that link every page, titles that carry the course's ids.

Fast: reads the sources only (the links themselves are resolved by the book build with -W)."""

from __future__ import annotations

import re

import nbformat
import pytest
import yaml

from idl_helpers.core import environment, reports
from idl_book import runner

BOOK = environment.book_dir()
SOURCES = [p for p in runner.discover() if p.stem not in runner.RUN_LAST]
#: ids of the course as the page titles write them (a group row of COURSEWORK.md included)
ID = r"I{1,2}\.(?:T\d(?:\.\d)?|P\d(?:\.[ab])?|\d[a-e]?)"


def _labels() -> set[str]:
    found = set()
    for p in SOURCES:
        for c in nbformat.read(p, as_version=4).cells:
            if c.cell_type == "markdown":
                found |= set(re.findall(r"^\(([\w.-]+)\)=\s*$", c.source, flags=re.M))
    return found


def test_each_part_is_one_sidebar_entry_and_globs_its_pages():
    toc = yaml.safe_load((environment.REPO_ROOT / "_toc.yml").read_text())
    assert "parts" not in toc, "captions + index chapters list each part twice in the sidebar"
    files = [c["file"] for c in toc["chapters"]]
    assert files.count("book/part1/index") == 1 and files.count("book/part2/index") == 1
    assert "book/questions" in files and "book/scorecard" in files
    for c in toc["chapters"]:
        if c["file"].endswith("/index") and c["file"].startswith("book/part"):
            part = c["file"].split("/")[1]
            assert c["sections"] == [{"glob": f"book/{part}/[0-9]*"}], "new pages must be picked up by the glob"


def test_questions_page_maps_every_question_id_to_a_page_and_section():
    text = (BOOK / "questions.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| ([^|]+?) \|.*$", text, flags=re.M)}
    missing = [q for q in reports.questions() if q not in rows]
    assert not missing, f"question ids without a row on the Questions page: {missing}"
    docs = re.findall(r"\{doc\}`[^`<]*<([^>]+)>`", text)
    for d in docs:
        assert (environment.notebooks_dir() / f"{d}.ipynb").exists() or (BOOK / f"{d}.md").exists(), d
    labels = _labels()
    refs = re.findall(r"\{ref\}`[^`<]*<([^>]+)>`", text)
    assert refs and not [r for r in refs if r not in labels], [r for r in refs if r not in labels]
    for q in reports.questions():
        assert "{doc}" in rows[q], f"{q}: no link to its page"


def test_part_index_pages_link_every_page_of_their_part():
    for part in ("part1", "part2"):
        text = (BOOK / part / "index.md").read_text()
        linked = set(re.findall(r"<(\d\d_[^>]+)>`", text))
        pages = {p.stem for p in SOURCES if p.parent.name == part}
        assert pages <= linked, f"{part}/index.md does not link {sorted(pages - linked)}"


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_titles_carry_the_course_ids_of_the_page(path):
    title = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
    head = title.split(" — ")[0]
    ids = re.findall(ID, head)
    assert ids, f"title without question ids: {title!r}"
    known = set(reports.questions())
    assert set(ids) <= known, f"{title!r}: {set(ids) - known} are not course ids"
    # every question whose own section heading is on the page is named in the title
    sections = set()
    for c in nbformat.read(path, as_version=4).cells:
        if c.cell_type == "markdown":
            sections |= {m for m in re.findall(rf"^## ({ID}) ", c.source, flags=re.M)}
    assert sections <= set(ids), f"{path.stem}: sections {sorted(sections - set(ids))} missing from the title"
