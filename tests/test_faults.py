"""``idl-book`` misused and under faults (issue 22): no silent whole-book runs, no raw tracebacks,
no orphaned processes, results tied to their page. Each test is one probe of the issue."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from idl_helpers.core import environment
from idl_book import cli, page_status, runner, terminal

from test_atomic_runs import SETUP, _default_signals, _log, _script, _start, _wait_for
from test_runner import write_nb

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A tiny book (one recording page, one summary that records nothing) that the CLI works on."""
    src = tmp_path / "notebooks"
    write_nb(src / "part1" / "03_rec.ipynb",
             SETUP.format(name="03_rec") + "import os\n"
             "ctx.recorder.add('I.P3', 'test accuracy', float(os.environ.get('REC_VALUE', '0.6')))",
             "if not os.environ.get('NO_FINISH'):\n    ctx.finish(show=False)")
    write_nb(src / "scorecard.ipynb", "import os\nassert os.environ['IDL_RESULTS_DIR']")
    root = tmp_path / "book"
    monkeypatch.setattr(environment, "notebooks_dir", lambda: src)
    monkeypatch.setattr(environment, "book_dir", lambda: root)
    monkeypatch.delenv(environment.RESULTS_DIR_ENV, raising=False)
    monkeypatch.delenv("NO_FINISH", raising=False)
    return src, root


def _run(src, root, **kw):
    return runner.run_notebooks("smoke", source_root=src, book_root=root, progress=False, **kw)


def _one_clear_line(err: str, *words):
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and all(w in err for w in words), err


# 1 ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [".", "/", "./", "..", "part1/", " . "])
def test_only_refuses_a_name_that_is_not_a_notebook(book, capsys, name):
    src, root = book
    assert cli.main(["run", "--profile", "smoke", "--only", name]) == 2
    _one_clear_line(capsys.readouterr().err, "is not a notebook name", repr(name))
    assert not root.exists()  # nothing ran
    assert [p.stem for p in runner.select(runner.discover(src), ["03"])] == ["03_rec"]  # prefixes still work


# 5 ------------------------------------------------------------------------------------------------
def test_a_closed_pipe_ends_the_scorecard_quietly(tmp_path):
    """`idl-book scorecard | head -1`: the reader goes away; no BrokenPipeError traceback."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(environment.RESULTS_DIR_ENV, None)
    cmd = f"{sys.executable} -m idl_book.cli scorecard --full | true"  # `true` never reads: the pipe closes
    proc = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert proc.stderr.strip() == ""


def test_a_cell_timeout_names_the_cell_in_one_line(book, tmp_path):
    """In a process of its own, as a user runs it (pytest would capture the loggers' lines)."""
    src, root = book
    write_nb(src / "part1" / "05_slow.ipynb", "x = 1", "import time\ntime.sleep(60)", "y = 2")
    script = _script(tmp_path, src, root, """
        sys.exit(cli.main(["run", "--profile", "smoke", "--only", "05_slow", "--timeout", "2"]))
    """)
    proc = _start(script)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err and "ZMQError" not in err, err
    # nbclient's and the kernel's own logs stay out: only the progress lines and the failure
    lines = [l for l in err.splitlines() if l.strip() and not re.match(r"\[\d+/\d+\] (started|finished) ", l)]
    assert len(lines) == 1 and lines[0].startswith(
        "FAILED: 05_slow: FAILED in cell In [4]: cell In [4] timed out after 2 s"), err
    attempt = _log(root)["05_slow"]["last_attempt"]
    assert attempt["failed_cell"] == 4 and "timed out after 2 s" in attempt["error"]


@pytest.mark.parametrize("what", ["missing", "empty"])
def test_build_refuses_a_root_that_is_not_a_book(tmp_path, capsys, what):
    root = tmp_path / "nowhere"
    if what == "empty":
        root.mkdir()
    assert cli.main(["build", "--root", str(root)]) == 2
    _one_clear_line(capsys.readouterr().err, str(root), "_config.yml")


def test_a_read_only_cache_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    """Running as root, chmod does not stop writes: the refusal is planted on mkdir instead."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv(environment.CACHE_DIR_ENV, str(cache))
    monkeypatch.setenv(environment.DATA_DIR_ENV, str(tmp_path))  # an empty data directory: nothing found there
    monkeypatch.setenv(environment.OFFLINE_ENV, "1")
    real_mkdir = Path.mkdir

    def mkdir(self, *a, **kw):
        if cache in self.parents:
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *a, **kw)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    assert cli.main(["data", "status"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "cache unusable" in out and environment.CACHE_DIR_ENV in out
    assert cli.main(["data", "fetch", "ptb"]) != 0
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert lines and all(l.startswith("error: ") and str(cache) in l and environment.CACHE_DIR_ENV in l
                         for l in lines), err


def test_a_truncated_executed_page_is_named(book, capsys):
    src, root = book
    assert [r.status for r in _run(src, root, only=["03"])] == ["ok"]
    page = root / "part1" / "03_rec.ipynb"
    page.write_text(page.read_text()[:200])
    state = {p.name: p for p in page_status.page_status(source_root=src, book_root=root)}["03_rec"]
    assert state.state == "damaged" and "damaged executed page" in state.detail and str(page) in state.detail
    assert cli.main(["status"]) == 1
    assert "damaged executed page" in capsys.readouterr().out
    book_root = root.parent
    (book_root / "_config.yml").write_text("title: t\n")
    (book_root / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    assert cli.main(["build", "--root", str(book_root)]) == 2
    _one_clear_line(capsys.readouterr().err, str(page), "damaged executed page")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_during_a_cell_is_one_line(book, tmp_path, sig):
    src, root = book
    mark = tmp_path / "mark"
    write_nb(src / "part1" / "04_sleepy.ipynb",
             "import os, time, pathlib\npathlib.Path(os.environ['SLEEPY_MARK']).write_text('x')\ntime.sleep(60)")
    script = _script(tmp_path, src, root, """
        sys.exit(cli.main(["run", "--profile", "smoke", "--only", "04_sleepy"]))
    """)
    proc = _start(script, SLEEPY_MARK=str(mark))
    _wait_for(mark, proc)
    time.sleep(1)  # inside the cell's sleep
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
    assert "interrupted" in err


def test_a_data_error_keeps_its_fix_in_the_one_line(book, capsys):
    src, root = book
    write_nb(src / "part1" / "07_nodata.ipynb",
             "raise RuntimeError('ptb.train.txt not found and downloads are disabled.\\n  looked in: /x\\n"
             "  fix: put it in a directory and set IDL_DATA_DIR=/that/directory')")
    run = _run(src, root, only=["07"])[0]
    assert run.status == "failed" and "not found" in run.error and "fix: put it in a directory" in run.error
    assert "\n" not in run.error


# 3 ------------------------------------------------------------------------------------------------
def _book_root(root):
    (root.parent / "_config.yml").write_text("title: t\n")
    (root.parent / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    return root.parent


def test_build_w_refuses_an_unreadable_run_log(book, capsys):
    src, root = book
    _run(src, root, only=["03"])
    log = root / "results" / "runs-smoke.json"
    log.write_text("<<<<<<< HEAD\n" + log.read_text() + "=======\n{}\n>>>>>>> other\n")
    assert cli.main(["build", "-W", "--root", str(_book_root(root))]) == 2
    _one_clear_line(capsys.readouterr().err, str(log), "run log cannot be read")


def test_build_w_refuses_an_unreadable_results_file(book, capsys):
    src, root = book
    _run(src, root, only=["03"])
    res = root / "results" / "smoke" / "03_rec.json"
    res.write_text("<<<<<<< HEAD\n" + res.read_text())
    assert cli.main(["build", "-W", "--root", str(_book_root(root))]) == 2
    _one_clear_line(capsys.readouterr().err, str(res), "not a readable results file")


def test_a_run_log_whose_inputs_is_a_list_is_one_line(book, capsys):
    src, root = book
    _run(src, root, only=["03"])
    path = root / "results" / "runs-smoke.json"
    log = json.loads(path.read_text())
    log["notebooks"][0]["inputs"] = list(log["notebooks"][0]["inputs"])
    path.write_text(json.dumps(log))
    assert cli.main(["status"]) == 2
    _one_clear_line(capsys.readouterr().err, str(path), "'inputs'", "list")
    assert cli.main(["build", "-W", "--root", str(_book_root(root))]) == 2
    _one_clear_line(capsys.readouterr().err, str(path), "'inputs'")


# 4 ------------------------------------------------------------------------------------------------
def test_a_run_that_writes_no_results_fails_and_keeps_the_old_numbers(book, monkeypatch):
    src, root = book
    assert [r.status for r in _run(src, root, only=["03"])] == ["ok"]
    numbers = (root / "results" / "smoke" / "03_rec.json").read_text()
    page = (root / "part1" / "03_rec.ipynb").read_text()
    monkeypatch.setenv("NO_FINISH", "1")  # the finish cell does nothing: no results file
    monkeypatch.setenv("REC_VALUE", "0.99")
    run = _run(src, root, only=["03"], seed=5)[0]
    assert run.status == "failed" and "wrote no results file" in run.error
    assert (root / "results" / "smoke" / "03_rec.json").read_text() == numbers
    assert (root / "part1" / "03_rec.ipynb").read_text() == page
    state = {p.name: p for p in page_status.page_status(source_root=src, book_root=root)}["03_rec"]
    assert state.state == "failed"


def test_a_recording_page_that_never_recorded_fails_but_a_summary_does_not(book, monkeypatch):
    src, root = book
    monkeypatch.setenv("NO_FINISH", "1")
    runs = {r.name: r for r in _run(src, root)}
    assert runs["03_rec"].status == "failed" and "wrote no results file" in runs["03_rec"].error
    assert runs["scorecard"].status == "ok"  # a summary that records nothing


def test_a_page_whose_results_file_is_invalid_or_foreign_is_not_current(book, capsys):
    src, root = book
    _run(src, root, only=["03"])
    states = lambda: {p.name: p for p in page_status.page_status(source_root=src, book_root=root)}  # noqa: E731
    assert states()["03_rec"].state == "current"
    res = root / "results" / "smoke" / "03_rec.json"
    good = res.read_text()
    res.write_text('{"records": [')
    assert states()["03_rec"].state == "damaged" and "results file is damaged" in states()["03_rec"].detail
    assert cli.main(["status"]) == 1
    # a valid file, but not the one the run that made the page wrote (another seed's numbers)
    other = json.loads(good)
    other["seed"], other["records"][0]["value"] = 9, 0.123
    res.write_text(json.dumps(other))
    st = states()["03_rec"]
    assert st.state == "damaged" and "not the one the run that made the page wrote" in st.detail
    res.write_text(good)
    assert states()["03_rec"].state == "current"


# 6 ------------------------------------------------------------------------------------------------
def test_data_status_fails_when_a_file_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(environment.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(environment.DATA_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(environment.OFFLINE_ENV, "1")
    assert cli.main(["data", "status"]) == 1
    out, err = capsys.readouterr()
    assert "missing " in out and "not usable:" in err and "Traceback" not in err


def test_data_status_passes_with_the_shared_data():
    data = Path(os.environ.get(environment.DATA_DIR_ENV) or REPO.parent / "shared" / "data")
    if not data.is_dir():
        pytest.skip("no data directory")
    env = {**os.environ, "PYTHONPATH": str(REPO), environment.DATA_DIR_ENV: str(data), environment.OFFLINE_ENV: "1"}
    proc = subprocess.run([sys.executable, "-m", "idl_book.cli", "data", "status"], env=env,
                          capture_output=True, text=True, timeout=300)
    if "not usable" in proc.stderr:
        pytest.skip(f"the data directory is incomplete here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_profile_auto_means_the_hardware_default(book, monkeypatch, capsys):
    src, root = book
    _run(src, root)
    monkeypatch.setattr(environment, "default_profile", lambda: "smoke")
    assert cli.main(["status", "--profile", "auto"]) == 0, capsys.readouterr()
    assert "2 current of 2 pages" in capsys.readouterr().out
    monkeypatch.setenv(environment.RESULTS_DIR_ENV, str(root / "results"))
    assert cli.main(["scorecard", "--profile", "auto", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r.get("ours (smoke)") not in (None, "", "—") for r in rows)  # not "everything missing"


def test_the_terminal_scorecard_marks_pages_that_are_not_current(book, monkeypatch, capsys):
    src, root = book
    _run(src, root)
    monkeypatch.setenv(environment.RESULTS_DIR_ENV, str(root / "results"))
    assert cli.main(["scorecard"]) == 0
    out = capsys.readouterr().out
    assert "[stale]" not in out and "[damaged]" not in out
    nb = src / "part1" / "03_rec.ipynb"
    nb.write_text(nb.read_text().replace("0.6", "0.7"))  # the page is stale now
    assert cli.main(["scorecard"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("I.P3 "))
    assert "03_rec [stale]" in line
    assert "rows from pages that are not current" in out


def test_damaged_run_logs_are_ignored_by_git():
    proc = subprocess.run(["git", "check-ignore", "-q", "book/results/runs-full.json.damaged-20260101T000000"],
                          cwd=REPO)
    assert proc.returncode == 0


# 7 ------------------------------------------------------------------------------------------------
def test_the_terminal_scorecard_is_one_line_per_question_within_120_columns(monkeypatch, capsys):
    from idl_book import scorecard as S

    monkeypatch.delenv(environment.RESULTS_DIR_ENV, raising=False)
    summary = S.summary()
    lines = terminal.summary_lines(summary)
    assert len(lines) == 2 + len(summary) and max(map(len, lines)) <= 120
    assert cli.main(["scorecard"]) == 0
    out = capsys.readouterr().out
    assert max(len(l) for l in out.splitlines()) <= 120
    questions = [l.split()[0] for l in out.splitlines()[2:2 + len(summary)]]
    assert questions == list(summary["question"])
    assert cli.main(["scorecard", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["question"] for r in rows] == list(summary["question"])
    assert cli.main(["scorecard", "--full"]) == 0
    full = capsys.readouterr().out.splitlines()
    assert full[0].split()[:4] == ["question", "metric", "report", "ours"] and len(full) > len(lines)


def test_clip_keeps_lines_within_their_width():
    assert terminal.clip("a\nb   c", 10) == "a b c"
    assert terminal.clip("x" * 30, 10) == "x" * 9 + "…"
    assert terminal._mark("11_a: stale: x; 12_b: failed: y at 3:00") == " [stale/failed]"
    assert terminal._mark("interrupted: last re-run …") == " [interrupted]" and terminal._mark("—") == ""


# 2 ------------------------------------------------------------------------------------------------
def test_a_killed_run_leaves_no_process_behind(book, tmp_path):
    """SIGKILL of `idl-book run` while the notebook's background worker (idl_helpers.core.parallel.start,
    a spawned process) sleeps: the kernel and the worker are gone within seconds."""
    psutil = pytest.importorskip("psutil")
    src, root = book
    pids = tmp_path / "pids.json"
    write_nb(src / "part1" / "06_worker.ipynb",
             "import json, os, time, psutil\nfrom idl_helpers.core import parallel\n"
             "job = parallel.start(time.sleep, 600, workers=2)\n"
             "t0 = time.time()\n"
             "spawned = lambda: [c for c in psutil.Process().children(recursive=True)\n"
             "                   if 'spawn_main' in ' '.join(c.cmdline())]\n"
             "while not spawned() and time.time() - t0 < 60:\n    time.sleep(0.1)\n"
             f"open({str(pids)!r}, 'w').write(json.dumps({{'kernel': os.getpid(), "
             "'workers': [c.pid for c in psutil.Process().children(recursive=True)]}))\n"
             "job.result()")
    script = _script(tmp_path, src, root, """
        sys.exit(cli.main(["run", "--profile", "smoke", "--only", "06_worker"]))
    """)
    proc = _start(script)
    _wait_for(pids, proc)
    time.sleep(0.5)
    seen = json.loads(pids.read_text())
    assert seen["workers"], seen
    proc.kill()
    proc.wait(timeout=30)  # (not communicate: an orphaned worker would keep its pipes open)

    def alive(pid):
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    left = [*seen["workers"], seen["kernel"]]
    t0 = time.monotonic()
    while any(map(alive, left)) and time.monotonic() - t0 < 15:
        time.sleep(0.2)
    survivors = [p for p in left if alive(p)]
    for p in survivors:  # leave nothing behind whatever the outcome
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    assert not survivors, f"still running after the run was killed: {survivors} of {seen}"
    # the killed run could not remove its staging folder; the next run does, and says so
    assert list(root.glob(".run-*"))
    assert [r.status for r in _run(src, root, only=["03"])] == ["ok"]
    assert not list(root.glob(".run-*"))
