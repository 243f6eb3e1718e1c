"""No number in a page's prose is typed in unless it is allowed to be.

A number written in a markdown cell of a source notebook goes stale the moment the run that
produced it changes. So every number in the prose must be one of:

* glued from the run (``{glue}`key``` — its value comes from the executed notebook);
* a number of the reports, transcribed in ``idl_helpers/core/report_numbers.json`` (to the digits
  the prose gives), or listed in ``REPORT`` below with the place it comes from;
* a fact that no run changes (a setting of the course, a constant of the data, a published
  number, a mathematical identity), listed in ``ALLOWED`` with the reason it is fine.

Small counting numbers (0–10), years and the numbers inside math (``$…$``: formulas) and
code (`` `…` ``) are fine everywhere. Fast: reads the source notebooks only.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from idl_helpers.core import environment, reports
from idl_book import runner

SOURCES = runner.discover()
COURSEWORK = environment.REPO_ROOT.parent / "shared" / "COURSEWORK.md"
SEEDS = COURSEWORK.parent / "seeds"

#: settings of the course (COURSEWORK.md) that many pages name
COURSE = {
    "100": "the first 100 tokens of a review; GloVe 100-d (the report's); 100 GRU units (II.3b)",
    "128": "the report's batch size (IMDB)",
    "15": "the report's number of epochs (IMDB)",
    "25,000": "the size of each IMDB split",
    "50": "GloVe 6B 50-d, the vectors available offline; 50 sigmoid units (II.1d)",
    "500": "the report's test reviews (its confusion matrices sum to 500)",
    "64": "the report's hidden size (I.P1)",
    "95": "95% intervals and bands: the book's one convention for every ± (idl_helpers.analysis.stats)",
}
#: report numbers that are not in report_numbers.json (they are not results anyone records)
REPORT = {
    "24_I_course_pipeline_ladder": {"25": "the 10×25 MLP: the report's other width, one side of I.P2's claim"},
    "20_I_P2_tokenwise_mlp": {
        ".80": "the report's hyper-parameter table, row 1, train accuracy",
        ".588": "the report's hyper-parameter table, row 1, test accuracy",
        ".792": "the report's hyper-parameter table, row 2, train accuracy",
        ".502": "the report's hyper-parameter table, row 2, test accuracy",
        ".853": "the report's hyper-parameter table, row 3, train accuracy (registry: 0.8533)",
    },
    "22_I_P4_restricted_attention": {".90": "the report: 'about .90 with much longer training' (registry note)"},
}
#: everything else a page may type, and why
ALLOWED = {
    "02_I_T1_3_5_vanishing_gradients": {
        "50": "the deepest network of the sweep (a setting; net_depths ends at 50 in every profile)",
    },
    "03_I_T2_architectures": {
        "57": "torchvision's published ImageNet top-1 of AlexNet (≈ 57 %)",
        "70": "torchvision's published ImageNet top-1 of ResNet-18 (≈ 70 %)",
        "200": "100 frames per second × a two-second clip (arithmetic of the example)",
        "224": "AlexNet's input size (224 × 224)",
        "256": "AlexNet's last feature map (256 × 6 × 6)",
        "4,096": "AlexNet's fully connected width",
        "10,000": "the word vocabulary of the speech example (a setting)",
    },
    "04_I_T3_text_to_image": {
        "24": "4! orderings of four quadrants",
        "64": "the generated image's size (64 × 64, a setting)",
        "362,880": "9! orderings of a 3 × 3 grid",
    },
    "10_I_P1a_rnn": {
        "60": "the report's smallest hidden size", "110": "the report's largest hidden size",
        "95": "95% intervals (a convention)",
    },
    "11_I_P1b_gru": {"20": "the report's smallest GRU hidden size", "110": "the report's largest hidden size",
                     "60": "the report's RNN hidden sizes start at 60, and its GRU train accuracy is given at 60"},
    "12_I_P1b_parameter_matched": {
        "95": "95% intervals (a convention)",
        "32": "the head's hidden layer (Linear(h, 32), the architecture)",
        "1.5": "the speed target: at most 1.5× nn.GRU's step time",
        "2,113": "12,673 − the RNN-64 cell's 10,560 parameters: derived from the report's count",
    },
    "20_I_P2_tokenwise_mlp": {
        "0.15": "the report's dropout (row 1)", "0.3": "the report's dropout (row 2)",
        "0.1": "the report's dropout (row 3)", "25": "the report's width (rows 1–2)",
        "20": "the vocabulary shown: words seen at least 20 times (a setting)",
        "95": "95% intervals (a convention)",
    },
    "21_I_P3_weighted_sum": {"0.1": "the report's dropout", "20": "words shown (a setting)",
                             "95": "95% intervals (a convention)",
                             "25": "the input-representation probe's PCA dimensions, 10 and 25 (a setting)"},
    "22_I_P4_restricted_attention": {"95": "95% intervals (a convention)"},
    "23_I_P2_4_comparison": {"20": "page numbers 20–22", "22": "page numbers 20–22",
                             "95": "95% intervals (a convention)"},
    "03_II_1d_4b_bigram_lm": {
        "0.3": "the course's learning rate", "112.86": "the report's dev perplexity (112.862), rounded",
        "2,000": "the course's vocabulary size; dev scored every 2,000 iterations",
        "8,192": "the evaluation chunk (a setting)", "10,000": "Mikolov's PTB vocabulary",
        "20,000": "the course's sgd helper halves the step every 20,000 iterations",
        "40,000": "the course's iterations", "10": "the held-out share of the training sentences, 10% (a setting)",
        "90": "the rest of the training sentences, 90%, that the variants train on (a setting)",
    },
    "10_II_3_char_lm": {
        "0.005": "the course's learning rate", "400": "the course's chunk length", "2,000": "the course's iterations",
        "10": "the held-out share of the text, 10% (a setting)",
    },
    "20_II_5ade_dan": {
        "89.4": "Iyyer et al. (2015), Table 1: the published DAN on IMDB",
        "300": "GloVe 300-d, the report's and Iyyer et al.'s vectors",
        "400": "tokens read per review (a setting)", "450": "the report's first hidden layer",
        "20": "the report's epochs (II.5a)", "2,048": "integration points (a setting)",
        "95": "95% intervals (a convention)",
    },
    "21_II_5bc_dan_sweeps": {
        "12": "the report's epochs (II.5b/c)", "300": "the report's GloVe 300-d", "400": "tokens read (a setting)",
        "450": "the report's first hidden layer", "5,000": "the quick profile's test reviews (a setting)",
        "10,000": "the quick profile's training reviews (a setting)", "95": "95% intervals (a convention)",
    },
    "scorecard": {"95": "95% intervals (a convention)", "0.5": "the scorecard's matching tolerance, 0.5%"},
}

NUMBER = re.compile(r"(?<![\w.,\-/])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])|(?<![\w\d.])\.\d+(?![\w])")
QUESTION_ID = re.compile(r"\bI{1,2}\.(?:T\d(?:\.\d)?|P\d(?:\.[ab])?(?:[–-]\d)?|\d[a-e]?(?:[–-][a-e])?)(?![\w])")


def prose(md: str) -> str:
    """The markdown without math, code, roles' contents, labels, link targets and question ids."""
    md = re.sub(r"\$\$.*?\$\$", " ", md, flags=re.S)
    md = re.sub(r"\$[^$\n]+\$", " ", md)
    md = re.sub(r"`[^`]*`", " ", md)                      # code spans, and {glue}`key` / {doc}`…`
    md = re.sub(r"^\([\w.-]+\)=\s*$", " ", md, flags=re.M)
    md = re.sub(r"\]\([^)]*\)", "]", md)
    md = QUESTION_ID.sub(" ", md)
    md = re.sub(r"^\s*(?:#+\s*)?\d+\.\s", " ", md, flags=re.M)  # numbered headings and lists
    return md


def numbers(md: str) -> list[tuple[str, str]]:
    """(number, a little context) for every number in the prose of a markdown cell."""
    text = prose(md)
    return [(m.group(0), text[max(0, m.start() - 25): m.end() + 12].replace("\n", " ")) for m in NUMBER.finditer(text)]


def _fine_anywhere(num: str, context: str) -> bool:
    value = float(num.replace(",", ""))
    if "," not in num and value.is_integer() and 1900 <= value <= 2099:
        return True  # a year (citations)
    if value.is_integer() and 0 <= value <= 10 and "." not in num:
        # counting words; but not a measured spread or percentage written as a small number
        after = context.split(num, 1)[1] if num in context else ""
        before = context.split(num, 1)[0] if num in context else ""
        return not (before.rstrip().endswith("±") or after.lstrip().startswith(("%", "points", "point")))
    return False


def _report_forms() -> set[str]:
    """The report's numbers as prose may write them: its digits, or rounded to fewer."""
    forms = set()
    for v in reports.table()["value"]:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        forms |= {f"{v:,}", f"{v:g}", f"{v:g}".lstrip("0")}
        for d in range(1, 4):
            r = f"{round(v, d):.{d}f}"
            forms |= {r, r.lstrip("0")}
    return forms


REPORT_FORMS = _report_forms()


def _allowed(stem: str) -> dict[str, str]:
    return {**COURSE, **REPORT.get(stem, {}), **ALLOWED.get(stem, {})}


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_every_number_in_the_prose_is_glued_or_registered(path):
    allowed = _allowed(path.stem)
    typed = []
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "markdown":
            continue
        for num, context in numbers(cell.source):
            if num in allowed or num in REPORT_FORMS or _fine_anywhere(num, context):
                continue
            typed.append(f"cell {i}: {num!r} in …{context}…")
    assert not typed, ("numbers typed into the prose (glue them from the run, or register them with a reason):\n"
                       + "\n".join(typed))


def test_registered_report_numbers_are_the_reports():
    """The numbers listed as the report's appear in the report's text (nothing invented)."""
    texts = [COURSEWORK] + (sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else [])
    if not COURSEWORK.exists():
        pytest.skip("COURSEWORK.md not beside the repository")
    corpus = " ".join(t.read_text(errors="ignore") for t in texts)
    values = {round(float(x), 4) for x in re.findall(r"\d*\.\d+|\d+", corpus.replace(",", ""))}
    for stem, entries in REPORT.items():
        for num in entries:
            assert round(float(num), 4) in values, (stem, num)


def test_registry_names_only_pages_that_exist_and_every_entry_is_used():
    stems = {p.stem for p in SOURCES}
    assert set(ALLOWED) | set(REPORT) <= stems
    for stem in set(ALLOWED) | set(REPORT):
        path = next(p for p in SOURCES if p.stem == stem)
        found = {n for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
                 for n, _ in numbers(c.source)}
        unused = set(ALLOWED.get(stem, {})) | set(REPORT.get(stem, {}))
        unused -= found
        assert not unused, f"{stem}: registered but not in the prose any more: {sorted(unused)}"


def test_the_checker_catches_a_typed_result():
    md = "Our GRU reached 0.7993 after 5 epochs, about ±4 points from the report; see {glue}`I.P1.b-x`."
    found = [n for n, c in numbers(md) if not (_fine_anywhere(n, c) or n in REPORT_FORMS)]
    assert found == ["0.7993", "4"]
    assert [n for n, _ in numbers("$\\sigma' \\le 1/4$, `cfg.epochs = 15`, I.T1.3, (q-i-t1-3)=")] == []


def _page_code(nb) -> str:
    """A page's code cells and the experiments modules they import: a page's glue calls may live in
    ``idl_helpers.experiments.<module>`` (the notebooks teach, the library keeps: issue 19)."""
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for mod in re.findall(r"from idl_helpers\.experiments import (\w+)", code):
        code += "\n" + (environment.REPO_ROOT / "idl_helpers" / "experiments" / f"{mod}.py").read_text()
    return code


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_glued_names_are_glued_by_the_page(path):
    """Every {glue}`name` a page's prose pastes is glued by one of its code cells (``glue("name", …)``),
    or is a record glued by ``ctx.finish()`` (names that start with a question id)."""
    nb = nbformat.read(path, as_version=4)
    code = _page_code(nb)
    for c in nb.cells:
        if c.cell_type != "markdown":
            continue
        for name in re.findall(r"\{glue(?::\w+)?\}`([^`]+)`", c.source):
            if re.match(QUESTION_ID.pattern + "-", name):
                assert "ctx.finish()" in code, name
            else:
                assert _glued(name, code), f"{path.stem}: {name} is never glued"


def _glued(name: str, code: str) -> bool:
    """``glue("name", …)``; a name the page passes to a helper that glues it (``_glue(glue_name, …)``
    with ``"name"`` in the code); or a name built from a prefix the page passes as a literal:
    ``_glue(f"{glue_prefix}_verdict", …)`` with ``"p2"`` in the code glues ``p2_verdict``."""
    if re.search(rf"glue\(\s*[\"']{re.escape(name)}[\"']", code):
        return True
    if re.search(r"glue\(\s*[a-z_]+\s*,", code) and re.search(rf"[\"']{re.escape(name)}[\"']", code):
        return True   # the page passes the name to a helper that glues it: _glue(glue_name, …)
    for m in re.finditer(r"glue\(\s*f[\"']\{\w+\}(_\w+)[\"']", code):
        suffix = m.group(1)
        if name.endswith(suffix) and re.search(rf"[\"']{re.escape(name[: -len(suffix)])}[\"']", code):
            return True
    return False


def test_a_glue_name_built_from_a_prefix_counts_only_with_its_prefix():
    code = 'self._verdict(gap, "p2")\n_glue(f"{glue_prefix}_verdict", verdict)'
    assert _glued("p2_verdict", code) and not _glued("p3_verdict", code) and not _glued("p2_answer", code)
    by_name = 'self._training_length("relu", "ReLU", "p1a_length", text)\n_glue(glue_name, measured)'
    assert _glued("p1a_length", by_name) and not _glued("p1b_length", by_name)
