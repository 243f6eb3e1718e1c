"""The whole book: every notebook under the smoke profile, then a build with warnings as errors,
then the training pages again with another --jobs: every number the same."""

from __future__ import annotations

import ast
import re
import os
import shutil

import nbformat
import pytest

from idl_helpers.core import environment, results
from idl_book import runner
from idl_book.cli import build_book

SOURCES = runner.discover()


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_source_notebook_conventions(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "stored with outputs"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "needs exactly one cell tagged 'parameters'"
    names = {t.id for node in ast.parse(params[0].source).body if isinstance(node, ast.Assign) for t in node.targets}
    assert names == set(runner.PARAMETERS)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "first cell: a '# title'"
    if path.stem not in runner.RUN_LAST:
        assert path.parent.name in ("part1", "part2") and path.stem[:2].isdigit()


@pytest.mark.slow
@pytest.mark.heavy  # ~6 min on 2 cores: `make test-heavy` (CI runs it), not `make test`
def test_smoke_book_executes_and_builds_without_warnings(tmp_path, mirror):
    root = tmp_path / "site"
    root.mkdir()
    for f in ("_config.yml", "_toc.yml"):
        shutil.copy(environment.REPO_ROOT / f, root / f)
    shutil.copytree(environment.REPO_ROOT / "_static", root / "_static")  # the book's CSS
    # the book's own pages, without executed notebooks or results (those come from this run)
    shutil.copytree(environment.book_dir(), root / "book",
                    ignore=lambda d, names: [n for n in names if n.endswith(".ipynb") or n == "results"])
    jobs = min(2, os.cpu_count() or 1)
    runs = runner.run_notebooks("smoke", jobs=jobs, book_root=root / "book", timeout=600, progress=False)
    failed = [r.describe() for r in runs if r.status != "ok"]
    assert not failed, "notebooks failed under smoke:\n" + "\n".join(failed)
    assert build_book(root, warnings_as_errors=True) == 0
    html = root / "_build" / "html"
    for page in ("index", "book/reproduce", "book/scorecard", "book/part1/index", "book/part2/index"):
        assert (html / f"{page}.html").exists(), page
    for r in runs:
        rel = os.path.relpath(r.output, root)
        assert (html / rel).with_suffix(".html").exists(), rel
    card = (html / "book" / "scorecard.html").read_text()
    assert "_static/idl-book.css" in card  # long lines wrap, tables fit the column (no sideways scrolling)
    cells = re.findall(r"<td[^>]*>\s*([^<]*?)\s*</td>", card)
    assert "passed" in cells and "FAILED" not in cells  # rendered table cells, not the page's code

    # determinism: the training pages again, with another --jobs (so other worker counts inside
    # them), give every number again, to the last digit
    again = tmp_path / "again"
    reruns = runner.run_notebooks("smoke", jobs=1 if jobs > 1 else 2, only=list(DETERMINISM_PAGES),
                                  book_root=again / "book", timeout=600, progress=False)
    assert [r.status for r in reruns] == ["ok"] * len(DETERMINISM_PAGES), [r.describe() for r in reruns]
    for name in DETERMINISM_PAGES:
        first = results.numbers(root / "book" / "results" / "smoke" / f"{name}.json")
        second = results.numbers(again / "book" / "results" / "smoke" / f"{name}.json")
        assert len(first) > 5 and first.keys() == second.keys(), name
        differ = {k: (first[k], second[k]) for k in first if first[k] != second[k]}
        assert not differ, f"{name}: {len(differ)} of {len(first)} numbers differ, e.g. {list(differ.items())[:3]}"


#: pages that train, between them using every way the book spreads work: recurrent sweeps
#: (:mod:`idl_helpers.training.sweep`), stacked DANs with a background job and a process pool
#: (:mod:`idl_helpers.core.parallel`), and a bigram model trained by jobs on workers
DETERMINISM_PAGES = ("10_I_P1a_rnn", "21_II_5bc_dan_sweeps", "03_II_1d_4b_bigram_lm")


def test_the_build_skips_the_runners_staging_folders():
    """A build while a run is in progress must not read the half-executed copy in book/.run-*."""
    import yaml
    from sphinx.util.matching import Matcher

    patterns = yaml.safe_load((environment.REPO_ROOT / "_config.yml").read_text())["exclude_patterns"]
    skip = Matcher(patterns)
    assert skip("book/.run-abc123/pages/part1/10_I_P1a_rnn.ipynb")
    assert not skip("book/part1/10_I_P1a_rnn.ipynb")
