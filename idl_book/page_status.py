"""Is a page in the book current? Stale, failed, interrupted and missing pages.

When the runner executes a notebook it records, in ``runs-<profile>.json``, the sha256 of every
input the page depends on: the source notebook and each ``idl_helpers`` module it imports,
directly or through other modules (found by reading the code, :func:`library_inputs`). A page is

* ``current``  — its last run succeeded and none of those files has changed since;
* ``stale``    — the notebook or library code it uses changed after it was executed;
* ``failed`` / ``interrupted`` — the last re-run did not finish (the book still shows the
  previous, successful run, but says so);
* ``missing``  — no executed page, or no successful run recorded for it;
* ``damaged``  — the executed page is not a readable notebook, or the page's own results file is
  damaged, gone, or not the one written by the run that made the page.

``idl-book status`` prints this; the book build shows a banner on every page that is not
current (:mod:`idl_book.sphinx_status`), and the scorecard marks its rows.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from idl_helpers.core import environment
from idl_helpers.core.environment import PROFILES

RANK = {p: i for i, p in enumerate(PROFILES)}
#: what the whole book may take on a 2-core CPU, per profile: the sum of the notebooks' wall times
BUDGET_S = {"quick": 25 * 60, "full": 150 * 60}

#: the packages whose files count as a page's inputs: the course code and, for the pages that
#: import it (the scorecard), the book machinery
PACKAGES = ("idl_helpers", "idl_book")
PACKAGES_ROOT = Path(__file__).resolve().parent.parent


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _notebook_code(path: Path) -> str:
    nb = json.loads(Path(path).read_text())
    cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    lines = []
    for c in cells:
        src = c.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        # IPython magics and shell escapes are not Python
        lines += [ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        lines.append("")
    return "\n".join(lines)


def _module_file(dotted: str) -> Path | None:
    """``idl_helpers.data.imdb`` → its file (module or package ``__init__``), if it exists."""
    parts = dotted.split(".")
    if parts[0] not in PACKAGES:
        return None
    base = PACKAGES_ROOT.joinpath(*parts)
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imports(code: str, module: str | None) -> set[str]:
    """Dotted names of the ``idl_helpers`` / ``idl_book`` modules that ``code`` imports (anywhere in it).

    ``module`` is the importing module's dotted name, for relative imports."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    package = None
    if module:
        is_pkg = (_module_file(module) or Path()).name == "__init__.py"
        package = module if is_pkg else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if not package:
                    continue
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from idl_helpers.training import train` imports a module, not a name
            found |= {f"{target}.{a.name}" for a in node.names}
    return {n for n in found if n.split(".")[0] in PACKAGES and _module_file(n)}


def _inert(path: Path) -> bool:
    """A package ``__init__`` that runs nothing but its docstring and constant assignments (the layer
    packages' ``__init__``, ``__version__``): it cannot change a number, so it is not an input and
    editing its documentation stales no page."""
    if path.name != "__init__.py":
        return False
    try:
        body = ast.parse(path.read_text()).body
    except SyntaxError:
        return False
    return all((isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
               or (isinstance(n, (ast.Assign, ast.AnnAssign)) and isinstance(n.value, ast.Constant))
               for n in body)


def library_inputs(notebook: Path) -> list[Path]:
    """Every ``idl_helpers`` / ``idl_book`` file a notebook's code can run: its imports, their imports, …,
    the packages' ``__init__`` files on the way (except inert ones, :func:`_inert`), and the package
    data (``*.json``) of modules that read it."""
    todo = list(_imports(_notebook_code(notebook), None))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run first
        f = _module_file(name)
        if f is not None:
            todo += _imports(f.read_text(), name)
    files = {_module_file(n) for n in seen} - {None}
    files = {f for f in files if not _inert(f)}
    for f in list(files):
        for data in re.findall(r'"([\w.-]+\.json)"', f.read_text()):
            if (f.parent / data).is_file():
                files.add(f.parent / data)
    return sorted(files)


def _key(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(environment.REPO_ROOT).as_posix()
    except ValueError:
        return str(Path(path).resolve())


def input_hashes_of(files) -> dict[str, str]:
    """``{path: sha256}`` (paths relative to the repository when inside it)."""
    return {_key(f): sha256(f) for f in files}


def input_hashes(notebook: Path) -> dict[str, str]:
    """``{path: sha256}`` for the notebook and its library inputs."""
    return input_hashes_of([Path(notebook), *library_inputs(notebook)])


def changed_inputs(recorded: dict[str, str]) -> list[str]:
    """The recorded inputs whose content differs now (or that no longer exist)."""
    out = []
    for key, digest in recorded.items():
        p = Path(key) if Path(key).is_absolute() else environment.REPO_ROOT / key
        try:
            if sha256(p) != digest:
                out.append(key)
        except OSError:
            out.append(f"{key} (gone)")
    return out


@dataclass
class PageStatus:
    name: str
    profile: str | None
    state: str  # current | stale | failed | interrupted | missing | damaged
    detail: str = ""
    changed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == "current"

    def line(self) -> str:
        return f"{self.name:34s} {self.profile or '-':6s} {self.state:11s} {self.detail}"


def read_log(results_root: Path, profile: str) -> dict[str, dict]:
    """The run log's entries by notebook name (empty when there is no log)."""
    path = Path(results_root) / f"runs-{profile}.json"
    fix = (f"restore it with `git checkout -- {path}` or re-run the notebooks "
           f"(`idl-book run --profile {profile}`)")
    try:
        entries = {e["name"]: e for e in json.loads(path.read_text())["notebooks"]}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        what = str(exc).splitlines()[0] if str(exc) else ""
        raise ValueError(f"{path}: the run log cannot be read ({exc.__class__.__name__}: {what}); {fix}") from None
    for name, e in entries.items():
        if not isinstance(e, dict):
            raise ValueError(f"{path}: the run log's entry {name!r} is not an object; {fix}")
        for key in ("inputs", "results", "last_attempt", "parameters"):
            if key in e and not isinstance(e[key], dict):
                raise ValueError(f"{path}: the run log's entry {name!r} has {key!r} as a "
                                 f"{type(e[key]).__name__}, not a mapping; {fix}")
    return entries


def results_problem(entry: dict, results_dir: Path, name: str) -> str:
    """Why a page's own results file does not back it (damaged, gone, or not the one its run wrote),
    or ``""``."""
    from idl_helpers.core.results import ResultsError, read_file

    path = Path(results_dir) / f"{name}.json"
    recorded = entry.get("results") or {}
    if path.exists():
        try:
            read_file(path)
        except ResultsError as exc:
            return f"its results file is damaged: {exc}"
    for key, digest in recorded.items():
        p = Path(key) if Path(key).is_absolute() else environment.REPO_ROOT / key
        try:
            if sha256(p) != digest:
                return f"its results file {key} is not the one the run that made the page wrote"
        except OSError:
            return f"its results file {key} is gone"
    return ""


def this_book(profile: str | None = None) -> list[PageStatus]:
    """:func:`page_status` of the book a running notebook belongs to (the runner says which, in
    ``$IDL_NOTEBOOKS_DIR`` / ``$IDL_BOOK_DIR`` / ``$IDL_RESULTS_DIR``), else of the repository's."""
    import os

    get = lambda var: os.environ.get(var) or None
    return page_status(profile, source_root=get(environment.NOTEBOOKS_DIR_ENV),
                       book_root=get(environment.BOOK_DIR_ENV), results_root=get(environment.RESULTS_DIR_ENV))


def page_status(profile: str | None = None, *, source_root: Path | None = None,
                book_root: Path | None = None, results_root: Path | None = None) -> list[PageStatus]:
    """One :class:`PageStatus` per source notebook.

    ``profile=None`` judges each page by the profile it was executed with (what the book shows);
    a profile given judges every page as a page of that profile."""
    from .pages import discover, executed_profile

    source_root = Path(source_root) if source_root else environment.notebooks_dir()
    book_root = Path(book_root) if book_root else environment.book_dir()
    results_root = Path(results_root) if results_root else book_root / "results"
    logs: dict[str, dict] = {}
    out = []
    for src in discover(source_root):
        page = book_root / src.relative_to(source_root)
        shown = executed_profile(page) if page.is_file() else None
        if page.is_file() and shown is None and (damage := damaged_page(page)):
            out.append(PageStatus(src.stem, profile, "damaged", f"damaged executed page {page}: {damage}; "
                                  f"restore it with `git checkout -- {page}` or re-run the notebook"))
            continue
        p = profile or shown
        if p is None:
            out.append(PageStatus(src.stem, None, "missing", "never executed"))
            continue
        if p not in logs:
            logs[p] = read_log(results_root, p)
        entry = logs[p].get(src.stem)
        attempt = (entry or {}).get("last_attempt")
        lighter = shown in RANK and p in RANK and RANK[shown] > RANK[p]  # the book keeps a more thorough page
        if not page.is_file():
            out.append(PageStatus(src.stem, p, "missing", "no executed page in the book"))
        elif shown != p and not lighter:
            out.append(PageStatus(src.stem, p, "missing", f"the book shows a {shown or 'non-runner'} run"))
        elif entry is None or entry.get("status") != "ok":
            state = attempt["status"] if attempt else "missing"
            out.append(PageStatus(src.stem, p, state, "no successful run recorded"
                                  + (f"; last attempt {attempt['status']} at {attempt['at']}" if attempt else "")))
        elif attempt:
            where = f" in cell In [{attempt['failed_cell']}]" if attempt.get("failed_cell") is not None else ""
            out.append(PageStatus(src.stem, p, attempt["status"],
                                  f"last re-run {attempt['status']} at {attempt['at']}{where}"
                                  f"{': ' + attempt['error'] if attempt.get('error') else ''}; "
                                  f"the page shows the run of {entry.get('finished_utc', '?')}"))
        elif "inputs" not in entry:
            out.append(PageStatus(src.stem, p, "stale", "executed before inputs were recorded"))
        else:
            changed = changed_inputs(entry["inputs"])
            shows = f" (the book shows its {shown} run)" if lighter else ""
            differs = numerics_differ(entry)
            bad_results = results_problem(entry, results_root / p, src.stem)
            if bad_results:
                out.append(PageStatus(src.stem, p, "damaged", bad_results + shows))
            elif differs:
                out.append(PageStatus(src.stem, p, "stale", differs + shows))
            elif changed:
                out.append(PageStatus(src.stem, p, "stale", "changed since it was executed: "
                                      + ", ".join(changed) + shows, changed))
            else:
                out.append(PageStatus(src.stem, p, "current", f"executed {entry.get('finished_utc', '?')}{shows}"))
    return out


def damaged_page(page: Path) -> str:
    """Why an executed page is not a notebook (truncated, not JSON), or ``""``."""
    try:
        nb = json.loads(Path(page).read_text())
    except ValueError as exc:
        return f"not valid JSON ({str(exc).splitlines()[0]})"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return "not a notebook (no cells)"
    return ""


def numerics_differ(entry: dict) -> str:
    """Why the runner would not reproduce a logged run's numbers to the last digit (its thread count
    or pinned CPU code paths differ from the runner's now), or ``""``. GPU runs are not judged."""
    if str(entry.get("device", "")).startswith("cuda"):
        return ""
    if "numerics" not in entry:
        threads = (entry.get("parameters") or {}).get("threads_per_kernel")
        return (f"executed before the thread count and CPU code paths were pinned ({threads} threads); "
                f"re-run it to get the numbers the runner reproduces")
    then, now = environment.pins(entry["numerics"]), environment.pins()
    if then == now:
        return ""
    what = ", ".join(f"{k} {then.get(k)!r} → {now[k]!r}" for k in now if then.get(k) != now[k])
    return f"executed with other numerics than the runner uses now ({what})"


def budget_text(total_s: float, budget_s: float) -> str:
    """``"within the 150 min budget"`` or ``"over the 25 min budget by 312 s"``."""
    what = f"the {budget_s / 60:.0f} min budget"
    return f"within {what}" if total_s <= budget_s else f"over {what} by {total_s - budget_s:.0f} s"


def costliest_text(walls: dict[str, float], n: int = 3) -> str:
    """The ``n`` pages that take longest and their share of the total, where a cut would pay:
    ``"10_I_P1a_rnn 4,368 s, 10_II_3_char_lm 1,839 s … (48% of it)"``; empty without times."""
    total = sum(walls.values())
    if total <= 0:
        return ""
    top = sorted(walls.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    share = sum(w for _, w in top) / total
    return ", ".join(f"{name} {w:,.0f} s" for name, w in top) + f" ({share:.0%} of it)"
