"""Runs that can be trusted: an interrupted or failed run never changes what the book shows,
concurrent runs keep every run-log entry, stale pages are listed, and the CLI refuses misuse."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from idl_helpers.core import environment, results
from idl_book import cli, page_status, runner

from test_runner import write_nb

SETUP = ("from idl_helpers.core.results import setup\n"
         "ctx = setup('{name}', profile=profile, seed=seed, device=device, data_dir=data_dir)\n")


@pytest.fixture
def book(tmp_path):
    src = tmp_path / "notebooks"
    # records a number, then fails late when $FLAKY is set (the record must not land)
    write_nb(src / "part1" / "03_flaky.ipynb",
             SETUP.format(name="03_flaky") + "import os\n"
             "ctx.recorder.add('I.P3', 'test accuracy', 0.9 if os.environ.get('FLAKY') else 0.6)\n"
             "ctx.finish(show=False)",
             "assert not os.environ.get('FLAKY'), 'planted late failure'")
    # announces that it is running, then sleeps (long enough to be interrupted)
    write_nb(src / "part1" / "04_sleepy.ipynb",
             SETUP.format(name="04_sleepy") + "import os, time, pathlib\n"
             "ctx.recorder.add('I.P4', 'test accuracy', float(os.environ.get('SLEEPY_VALUE', '0.5')))\n"
             "ctx.finish(show=False)\n"
             "pathlib.Path(os.environ['SLEEPY_MARK']).write_text('started')\n"
             "time.sleep(float(os.environ.get('SLEEPY_SECONDS', '0')))")
    return src, tmp_path / "book"


def _page_text(book, name):
    return (book / "part1" / f"{name}.ipynb").read_text()


def _log(book, profile="smoke"):
    return {e["name"]: e for e in json.loads((book / "results" / f"runs-{profile}.json").read_text())["notebooks"]}


@pytest.mark.heavy  # real kernels (≈ 15–30 s): with the slow fault probes, so `make test` stays under 5 min
def test_a_late_failure_keeps_the_previous_page_and_numbers(book, monkeypatch):
    src, root = book
    first = runner.run_notebooks("smoke", only=["03_flaky"], source_root=src, book_root=root, progress=False)
    assert first[0].status == "ok"
    page = _page_text(root, "03_flaky")
    numbers = (root / "results" / "smoke" / "03_flaky.json").read_text()
    monkeypatch.setenv("FLAKY", "1")
    again = runner.run_notebooks("smoke", only=["03_flaky"], source_root=src, book_root=root, progress=False)
    assert again[0].status == "failed" and "planted late failure" in again[0].error
    assert _page_text(root, "03_flaky") == page  # the book still shows the successful run
    assert (root / "results" / "smoke" / "03_flaky.json").read_text() == numbers  # 0.6, not 0.9
    entry = _log(root)["03_flaky"]
    assert entry["status"] == "ok" and entry["last_attempt"]["status"] == "failed"
    state = {p.name: p for p in page_status.page_status(source_root=src, book_root=root)}["03_flaky"]
    assert state.state == "failed" and "last re-run failed" in state.detail
    # a successful re-run clears the mark
    monkeypatch.delenv("FLAKY")
    runner.run_notebooks("smoke", only=["03_flaky"], source_root=src, book_root=root, progress=False)
    assert "last_attempt" not in _log(root)["03_flaky"]


def _script(tmp_path, src, root, body):
    script = tmp_path / f"run_{time.monotonic_ns()}.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from idl_helpers.core import environment
        from idl_book import cli, runner
        src, root = Path({str(src)!r}), Path({str(root)!r})
        environment.notebooks_dir = lambda: src
        environment.book_dir = lambda: root
    """) + textwrap.dedent(body))
    return script


def _start(script, **env):
    full = {**os.environ, environment.RESULTS_DIR_ENV: "", **env}
    full.pop(environment.RESULTS_DIR_ENV)
    # the child gets Ctrl-C's default disposition whatever this process inherited: pytest started
    # from a background job (`make test &`) inherits SIGINT ignored, and the child would too
    return subprocess.Popen([sys.executable, str(script)], env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)


def _default_signals():
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _wait_for(path: Path, proc, timeout=90):
    t0 = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "the notebook never started"
        time.sleep(0.2)


#: every signal (≈ 35 s each, a real kernel killed mid-cell) runs with the heavy end-to-end tests
#: (`make test-heavy`, CI runs both), so that `make test` stays under 5 minutes
_SLOW = pytest.mark.heavy


@pytest.mark.parametrize("sig,jobs", [pytest.param(signal.SIGINT, 1, marks=_SLOW),
                                      pytest.param(signal.SIGTERM, 1, marks=_SLOW),
                                      pytest.param(signal.SIGHUP, 1, marks=_SLOW),
                                      pytest.param(signal.SIGINT, 2, marks=_SLOW)])
def test_an_interrupted_run_changes_nothing_the_book_shows(book, tmp_path, sig, jobs):
    src, root = book
    mark = tmp_path / "mark"
    os.environ["SLEEPY_MARK"] = str(mark)
    try:
        ok = runner.run_notebooks("smoke", only=["04_sleepy", "03"], source_root=src, book_root=root,
                                  progress=False)
    finally:
        del os.environ["SLEEPY_MARK"]
    assert [r.status for r in ok] == ["ok", "ok"]
    page, numbers = _page_text(root, "04_sleepy"), (root / "results" / "smoke" / "04_sleepy.json").read_text()
    mark.unlink()
    script = _script(tmp_path, src, root, f"""
        sys.exit(cli.main(["run", "--profile", "smoke", "--jobs", "{jobs}", "--only", "04_sleepy", "03_flaky"]))
    """)
    proc = _start(script, SLEEPY_MARK=str(mark), SLEEPY_SECONDS="60", SLEEPY_VALUE="0.99")
    _wait_for(mark, proc)  # the kernel has recorded 0.99 into its staging folder and is sleeping
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err
    assert _page_text(root, "04_sleepy") == page
    assert (root / "results" / "smoke" / "04_sleepy.json").read_text() == numbers  # not 0.99
    entry = _log(root)["04_sleepy"]
    assert entry["status"] == "ok" and entry["last_attempt"]["status"] == "interrupted"
    assert not list(root.glob(".run-*"))
    state = {p.name: p for p in page_status.page_status(source_root=src, book_root=root)}["04_sleepy"]
    assert state.state == "interrupted"


@_SLOW  # two real runs at once, ≈ 30 s
def test_concurrent_runs_keep_every_log_entry(book, tmp_path):
    src, root = book
    marks = [tmp_path / "m1", tmp_path / "m2"]
    procs = []
    for name, mark in zip(("03_flaky", "04_sleepy"), marks):
        script = _script(tmp_path, src, root, f"""
            rs = runner.run_notebooks("smoke", only=["{name}"], progress=False)
            sys.exit(0 if rs[0].status == "ok" else 1)
        """)
        procs.append(_start(script, SLEEPY_MARK=str(mark), SLEEPY_SECONDS="2"))
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert set(_log(root)) == {"03_flaky", "04_sleepy"}
    assert {f.name for f in (root / "results" / "smoke").glob("*.json")} == {"03_flaky.json", "04_sleepy.json"}


def _concurrent_writers(tmp_path, lock: bool = True, writers: int = 4, entries: int = 25) -> int:
    """``writers`` processes, started together, each merging ``entries`` entries into one run log;
    returns how many entries the log ends with (``lock=False``: the same without the lock)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    go = tmp_path / "go"
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(f"""
        import contextlib, sys, time
        from pathlib import Path
        from idl_book import runner
        # the entry's metadata (git status, library versions) is what makes a merge slow, not the merge:
        # without it the writers overlap far more often, which is what the lock has to survive
        runner.git_commit, runner.versions = (lambda: "0" * 40), (lambda: {{}})
        read = runner._read_log_entries
        def slow_read(path):        # a wide read-modify-write window: without the lock, writers overwrite
            entries = read(path)    # each other almost every time
            time.sleep(0.02)
            return entries
        runner._read_log_entries = slow_read
        if not {lock!r}:
            runner._locked = lambda path: contextlib.nullcontext()
        i = int(sys.argv[1])
        Path({str(tmp_path)!r}, f"ready{{i}}").touch()
        while not Path({str(go)!r}).exists():       # every writer imported: start together
            time.sleep(0.01)
        for k in range({entries}):
            run = runner.NotebookRun(f"nb{{i}}_{{k}}", f"/x/nb{{i}}_{{k}}.ipynb", "/y", "ok", 1.0)
            runner._update_log(Path({str(tmp_path)!r}), "smoke", [run], {{"device": "cpu"}}, {{}})
    """))
    procs = [subprocess.Popen([sys.executable, str(script), str(i)]) for i in range(writers)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready*"))) < writers and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    assert all(p.wait(timeout=120) == 0 for p in procs)
    return len(json.loads((tmp_path / "runs-smoke.json").read_text())["notebooks"])


def test_update_log_is_safe_under_concurrent_writers(tmp_path):
    """Many processes merging entries at once: none is lost (the read-modify-write is locked)."""
    assert _concurrent_writers(tmp_path / "locked", lock=True) == 4 * 25
    # the same writers without the lock lose entries: the test can see a race
    assert _concurrent_writers(tmp_path / "unlocked", lock=False) < 4 * 25


def test_a_damaged_run_log_is_kept_aside_and_said(book, capsys):
    src, root = book
    (root / "results").mkdir(parents=True)
    (root / "results" / "runs-smoke.json").write_text('{"notebooks": [ {"name": ')
    runner.run_notebooks("smoke", only=["03_flaky"], source_root=src, book_root=root, progress=False)
    err = capsys.readouterr().err
    assert "could not be read" in err and "kept as" in err
    aside = list((root / "results").glob("runs-smoke.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_text() == '{"notebooks": [ {"name": '
    assert set(_log(root)) == {"03_flaky"}


def test_a_log_without_a_tty_has_one_line_per_notebook(book, capsys):
    src, root = book
    runner.run_notebooks("smoke", only=["03_flaky"], source_root=src, book_root=root, progress=True)
    err = capsys.readouterr().err
    assert "[0/1] started  03_flaky" in err and "[1/1] finished 03_flaky: ok (" in err
    assert "\r" not in err


@pytest.mark.heavy  # real kernels (≈ 15–30 s): with the slow fault probes, so `make test` stays under 5 min
def test_with_two_workers_a_notebook_finishes_before_the_next_one_starts_in_its_worker(book, capsys,
                                                                                      monkeypatch):
    src, root = book
    write_nb(src / "part1" / "05_quick.ipynb", SETUP.format(name="05_quick") + "ctx.finish(show=False)")
    monkeypatch.setenv("SLEEPY_MARK", str(root.parent / "mark"))
    monkeypatch.setenv("SLEEPY_SECONDS", "3")
    runner.run_notebooks("smoke", jobs=2, source_root=src, book_root=root, progress=True)
    lines = [l for l in capsys.readouterr().err.splitlines() if "started" in l or "finished" in l]
    third = next(i for i, l in enumerate(lines) if "started  05_quick" in l)
    assert any("finished 03_flaky" in l for l in lines[:third]), lines  # its worker was free first
    assert [l.split("] ")[1].split()[0] for l in lines].count("started") == 3


def test_stale_pages_are_listed(book, monkeypatch):
    src, root = book
    runner.run_notebooks("smoke", only=["03_flaky"], source_root=src, book_root=root, progress=False)
    states = {p.name: p for p in page_status.page_status(source_root=src, book_root=root)}
    assert states["03_flaky"].state == "current"
    assert states["04_sleepy"].state == "missing"
    inputs = _log(root)["03_flaky"]["inputs"]
    # the library code the notebook runs is among its inputs, found through its imports
    assert {"idl_helpers/core/results.py", "idl_helpers/core/results.py", "idl_helpers/core/environment.py",
            "idl_helpers/core/report_numbers.json"} <= set(inputs)
    # ... and only that: not the course code it never imports, nor the scorecard (a scorecard fix must
    # not make every page stale)
    assert "idl_helpers/models/char_lm.py" not in inputs
    assert "idl_book/scorecard.py" not in inputs
    # a library file that changed since the page was executed makes it stale (planted in the log)
    log_path = root / "results" / "runs-smoke.json"
    log = json.loads(log_path.read_text())
    log["notebooks"][0]["inputs"]["idl_helpers/core/environment.py"] = "0" * 64
    log_path.write_text(json.dumps(log))
    state = {p.name: p for p in page_status.page_status(source_root=src, book_root=root)}["03_flaky"]
    assert state.state == "stale" and state.changed == ["idl_helpers/core/environment.py"]
    # and so does an edit of the notebook itself
    nb = src / "part1" / "03_flaky.ipynb"
    nb.write_text(nb.read_text().replace("0.6", "0.7"))
    state = {p.name: p for p in page_status.page_status(source_root=src, book_root=root)}["03_flaky"]
    assert any(c.endswith("03_flaky.ipynb") for c in state.changed)


def _smoke_book_for_the_cli(book, monkeypatch):
    """The tiny book as `idl-book` sees it (its notebooks, book and results folders), run once under smoke."""
    src, root = book
    monkeypatch.setattr(environment, "notebooks_dir", lambda: src)
    monkeypatch.setattr(environment, "book_dir", lambda: root)
    monkeypatch.delenv(environment.RESULTS_DIR_ENV, raising=False)
    monkeypatch.setenv("SLEEPY_MARK", str(root.parent / "mark"))
    runner.run_notebooks("smoke", progress=False)
    return src, root


def test_status_command_exits_non_zero_when_a_page_is_not_current(book, monkeypatch, capsys):
    src, root = _smoke_book_for_the_cli(book, monkeypatch)
    monkeypatch.setattr(page_status, "BUDGET_S", {"smoke": 3600})
    assert cli.main(["status"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "2 current of 2 pages" in out
    # the book's notebook time, the sum of the recorded wall times, against the profile's budget
    walls = sum(nb["wall_time_s"] for nb in _log(root).values())
    assert f"smoke: 2 of 2 pages ran, {walls:,.0f} s" in out and "within the 60 min budget" in out
    assert "beside another notebook" not in out                       # one at a time: times are the pages' own
    monkeypatch.setattr(page_status, "BUDGET_S", {"smoke": 1})      # over budget: the longest pages are named
    cli.main(["status"])
    assert "over the 0 min budget" in (out := capsys.readouterr().out) and "; the longest: 0" in out, out
    runner.run_notebooks("smoke", only=["03"], jobs=2, progress=False)
    cli.main(["status"])
    assert "1 of them ran beside another notebook (--jobs > 1)" in capsys.readouterr().out
    monkeypatch.setenv("FLAKY", "1")
    runner.run_notebooks("smoke", only=["03"], progress=False)
    assert cli.main(["status"]) == 1
    captured = capsys.readouterr()
    assert "03_flaky" in captured.err and "failed" in captured.out
    assert cli.main(["status", "--profile", "quick"]) == 1  # no quick page at all


def test_budget_text():
    assert page_status.budget_text(1500, 25 * 60) == "within the 25 min budget"
    assert page_status.budget_text(1812, 25 * 60) == "over the 25 min budget by 312 s"


def test_costliest_text_names_where_a_cut_would_pay():
    walls = {"10_a": 4368.1, "11_b": 1290.0, "01_c": 2.0, "10_II_d": 1839.4}
    assert page_status.costliest_text(walls, n=2) == "10_a 4,368 s, 10_II_d 1,839 s (83% of it)"
    assert page_status.costliest_text({}) == "" and page_status.costliest_text({"a": 0.0}) == ""


def test_recorded_commit_ignores_the_runners_own_outputs(tmp_path):
    (tmp_path / "notebooks" / "part1").mkdir(parents=True)
    (tmp_path / "notebooks" / "part1" / "01_a.ipynb").write_text("{}")
    assert results.is_runner_output("book/part1/01_a.ipynb", tmp_path)
    assert results.is_runner_output("book/results/quick/01_a.json", tmp_path)
    assert not results.is_runner_output("book/part1/index.md", tmp_path)
    assert not results.is_runner_output("book/part1/02_handmade.ipynb", tmp_path)
    assert not results.is_runner_output("idl_helpers/training/train.py", tmp_path)
    porcelain = " M book/results/runs-quick.json\nR  old.py -> new.py\n M idl_helpers/x.py\n"
    assert results._dirty_paths(porcelain) == ["book/results/runs-quick.json", "old.py", "new.py",
                                               "idl_helpers/x.py"]


@pytest.mark.parametrize("argv,message", [
    (["run", "--profile", "smoke", "--only", ""], "--only needs notebook names"),
    (["run", "--profile", "smoke", "--timeout", "-5"], "positive"),
    (["run", "--profile", "smoke", "--timeout", "soon"], "whole number"),
])
def test_cli_refuses_misuse_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_runner_refuses_empty_names_and_bad_timeouts(book):
    src, root = book
    with pytest.raises(runner.RunnerError, match="needs notebook names"):
        runner.run_notebooks("smoke", only=[""], source_root=src, book_root=root)
    with pytest.raises(runner.RunnerError, match="needs notebook names"):
        runner.run_notebooks("smoke", only=[], source_root=src, book_root=root)
    with pytest.raises(runner.RunnerError, match="positive"):
        runner.run_notebooks("smoke", timeout=-5, source_root=src, book_root=root)
    assert not root.exists()


def test_a_damaged_results_file_is_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "quick").mkdir()
    bad = tmp_path / "quick" / "10_x.json"
    bad.write_text('{"records": [')
    monkeypatch.setenv(environment.RESULTS_DIR_ENV, str(tmp_path))
    with pytest.raises(results.ResultsError, match="10_x.json"):
        results.load()
    assert cli.main(["scorecard"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and len(err.strip().splitlines()) == 1


def test_the_build_puts_a_banner_on_pages_that_are_not_current(book, monkeypatch):
    from idl_book import sphinx_status

    src, root = book
    monkeypatch.setenv("FLAKY", "1")
    runner.run_notebooks("smoke", only=["03"], source_root=src, book_root=root, progress=False)
    assert sphinx_status.collect(root.parent)["book/part1/03_flaky"].state == "missing"
    monkeypatch.delenv("FLAKY")
    runner.run_notebooks("smoke", only=["03"], source_root=src, book_root=root, progress=False)
    assert "book/part1/03_flaky" not in sphinx_status.collect(root.parent)  # current: no banner
    nb = src / "part1" / "03_flaky.ipynb"
    nb.write_text(nb.read_text().replace("0.6", "0.7"))
    status = sphinx_status.collect(root.parent)["book/part1/03_flaky"]
    context = {"body": "<h1>I.P3</h1>"}

    class App:
        env = type("Env", (), {"idl_page_status": {"book/part1/03_flaky": status}})()

    sphinx_status._page_context(App, "book/part1/03_flaky", "page.html", context, None)
    assert context["body"].startswith('<div class="admonition warning idl-page-status">')
    assert "This page is stale" in context["body"] and "03_flaky.ipynb" in context["body"]


def test_a_summary_is_stale_once_a_page_it_summarises_has_new_numbers(book):
    src, root = book
    write_nb(src / "scorecard.ipynb", "from idl_helpers.core import results\nresults.load()")
    runner.run_notebooks("smoke", only=["03", "scorecard"], source_root=src, book_root=root, progress=False)
    states = {p.name: p.state for p in page_status.page_status(source_root=src, book_root=root)}
    assert states["scorecard"] == "current"
    runner.run_notebooks("smoke", only=["03"], source_root=src, book_root=root, progress=False, seed=3)
    state = {p.name: p for p in page_status.page_status(source_root=src, book_root=root)}["scorecard"]
    assert state.state == "stale" and any(c.endswith("smoke/03_flaky.json") for c in state.changed)


def test_a_summary_run_sees_the_status_of_its_own_book(book, tmp_path, monkeypatch):
    """The scorecard marks pages whose last re-run failed: it judges the book it runs in."""
    src, root = book
    out = tmp_path / "seen.json"
    write_nb(src / "scorecard.ipynb", "import json, os\nfrom idl_book.page_status import this_book\n"
             f"open({str(out)!r}, 'w').write(json.dumps({{p.name: p.state for p in this_book()}}))")
    runner.run_notebooks("smoke", only=["03"], source_root=src, book_root=root, progress=False)
    monkeypatch.setenv("FLAKY", "1")
    runner.run_notebooks("smoke", only=["03", "scorecard"], source_root=src, book_root=root, progress=False)
    seen = json.loads(out.read_text())
    assert seen["03_flaky"] == "failed" and seen["04_sleepy"] == "missing"


@pytest.mark.heavy  # real kernels (≈ 15–30 s): with the slow fault probes, so `make test` stays under 5 min
def test_status_puts_no_budget_on_part_of_a_profile(book, monkeypatch, capsys):
    """When the book shows some of a profile's pages from a more thorough profile, the default view sums
    only the pages it shows: it says so and makes no budget claim (a 1-page "quick within budget" misled)."""
    src, root = _smoke_book_for_the_cli(book, monkeypatch)
    runner.run_notebooks("quick", only=["03"], progress=False)
    cli.main(["status"])
    out = capsys.readouterr().out
    assert "smoke: 1 of 1 pages ran" in out and "only the pages shown from this profile" in out
    assert "smoke" not in [ln.split(":")[0] for ln in out.splitlines() if "budget" in ln and "only" not in ln]
