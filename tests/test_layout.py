"""The layout the book relies on: the course code never imports the book machinery, and no
module imports itself back through others (an import cycle)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("idl_helpers", "idl_book")
#: cycles allowed to exist (none: paths and the data layer share their error classes through
#: idl_helpers.core.environment instead of importing each other)
KNOWN_CYCLES: set[frozenset] = set()  # none left: keep it that way


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The modules of our packages that ``path`` imports, anywhere in it (function bodies too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out |= {f"{target}.{a.name}" for a in node.names}
    return {m for m in out if m.split(".")[0] in PACKAGES}


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    return {m: {d for d in imports_of(p) if d in files and d != m} for m, p in files.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def upward_imports(g: dict[str, set[str]]) -> dict[str, list[str]]:
    """Course modules that import the book machinery, and what they import from it."""
    return {m: sorted(d for d in deps if d.split(".")[0] == "idl_book") for m, deps in g.items()
            if m.split(".")[0] == "idl_helpers" and any(d.split(".")[0] == "idl_book" for d in deps)}


def new_cycles(g: dict[str, set[str]]) -> list[list[str]]:
    return [c for c in cycles(g) if frozenset(c) not in KNOWN_CYCLES]


def test_the_course_code_never_imports_the_book_machinery():
    assert upward_imports(graph()) == {}


def test_no_new_import_cycles():
    assert new_cycles(graph()) == []


def test_a_planted_upward_import_and_cycle_are_caught():
    g = graph()
    g["idl_helpers.training.train"] = g["idl_helpers.training.train"] | {"idl_book.scorecard"}
    g["idl_book.pages"] = g["idl_book.pages"] | {"idl_book.runner"}   # runner imports pages
    assert upward_imports(g) == {"idl_helpers.training.train": ["idl_book.scorecard"]}
    assert any({"idl_book.pages", "idl_book.runner"} <= set(c) for c in new_cycles(g))


#: idl_helpers in layers: a module imports only its own layer and the layers before it in this list
LAYERS = ("core", "data", "theory", "models", "training", "analysis", "experiments")


def layer_violations(g: dict[str, set[str]]) -> list[str]:
    """``a -> b`` for every import of a later layer (or a top-level module) by an idl_helpers module."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    out = []
    for m, deps in g.items():
        parts = m.split(".")
        if parts[0] != "idl_helpers" or len(parts) < 2:
            continue
        for d in deps:
            dp = d.split(".")
            if dp[0] != "idl_helpers" or len(dp) < 2 or dp[1] == parts[1]:
                continue
            if dp[1] not in rank or parts[1] not in rank or rank[dp[1]] > rank[parts[1]]:
                out.append(f"{m} -> {d}")
    return sorted(out)


def test_the_course_code_is_in_layers():
    top = sorted(p.name for p in (ROOT / "idl_helpers").iterdir()
                 if p.suffix == ".py" and p.name != "__init__.py")
    assert top == [], f"every course module belongs to a layer {LAYERS}: {top}"
    assert sorted(p.name for p in (ROOT / "idl_helpers").iterdir() if (p / "__init__.py").is_file()) == sorted(LAYERS)
    assert layer_violations(graph()) == []


def test_a_planted_layer_violation_is_caught():
    g = graph()
    g["idl_helpers.core.tables"] = g["idl_helpers.core.tables"] | {"idl_helpers.analysis.stats"}
    assert layer_violations(g) == ["idl_helpers.core.tables -> idl_helpers.analysis.stats"]


#: a page is a short narrative over idl_helpers.experiments (issue 19): code lines per notebook, the
#: parameters cell included
MAX_CODE_LINES = 80
#: pages not yet moved into idl_helpers.experiments, each with its count today: the list may only shrink
NOT_YET_SLIM: dict[str, int] = {}   # every page is slim now: keep it that way


def code_lines(path: Path) -> int:
    import json

    nb = json.loads(path.read_text())
    return sum(len("".join(c["source"]).splitlines()) for c in nb["cells"] if c["cell_type"] == "code")


def test_every_page_is_a_short_narrative():
    counts = {p.stem: code_lines(p) for p in sorted((ROOT / "notebooks").rglob("*.ipynb"))}
    assert counts, "no notebooks found"
    too_long = {n: c for n, c in counts.items() if c > MAX_CODE_LINES and c > NOT_YET_SLIM.get(n, 0)}
    assert too_long == {}, f"pages over {MAX_CODE_LINES} code lines (move the code into idl_helpers.experiments): {too_long}"
    slimmed = [n for n in NOT_YET_SLIM if counts.get(n, 0) <= MAX_CODE_LINES]
    assert slimmed == [], f"{slimmed} are short now: remove them from NOT_YET_SLIM"


_MODULE_REF = re.compile(r"\b(idl_(?:helpers|book)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def _defines(source: str, name: str) -> bool:
    """Whether a module's source defines or imports ``name`` at its top level."""
    n = re.escape(name)
    return bool(re.search(rf"^(?:def|class) {n}\b|^{n}\s*[:=]|^(?:from \S+ )?import .*\b{n}\b", source, re.M))


def _dangling(text: str) -> set[str]:
    """The dotted ``idl_helpers.…``/``idl_book.…`` names in ``text`` that are neither a module nor a
    name defined in one (a module that moved leaves its old name behind in the prose)."""
    out = set()
    for name in set(_MODULE_REF.findall(text)):
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            base = ROOT.joinpath(*parts[:cut])
            src = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
            if src.exists():
                if cut < len(parts) and (len(parts) - cut > 1 or not _defines(src.read_text(), parts[cut])):
                    out.add(name)
                break
        else:
            out.add(name)
    return out


def test_the_docs_name_only_modules_that_exist():
    docs = [ROOT / "README.md", *sorted((ROOT / "book").glob("*.md"))]
    missing = {f"{p.relative_to(ROOT)}: {n}" for p in docs for n in _dangling(p.read_text())}
    assert not missing, f"the docs name modules that do not exist (moved?): {sorted(missing)}"


def test_a_moved_module_named_in_the_docs_is_caught():
    assert _dangling("see `idl_helpers.sweep` and `idl_helpers.training.sweep`") == {"idl_helpers.sweep"}
    assert _dangling("`idl_helpers.core.parallel.run` and `idl_helpers.core.parallel.nothing_here`") == {
        "idl_helpers.core.parallel.nothing_here"}
