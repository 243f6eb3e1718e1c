"""The papermill runner on tiny notebooks, one of which fails."""

from __future__ import annotations

import json
from pathlib import Path
import os

import nbformat
import pytest

from idl_book import cli, runner
from idl_helpers.core import environment

PARAMS = 'profile = "smoke"\nseed = 0\ndevice = "auto"\ndata_dir = ""'


def write_nb(path, *sources):
    cells = [nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]})]
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                        "display_name": "Python 3"}})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def tiny(tmp_path):
    src = tmp_path / "notebooks"
    write_nb(src / "part1" / "01_ok.ipynb",
             "from idl_helpers.core.results import setup\n"
             "ctx = setup('01_ok', profile=profile, seed=seed, device=device, data_dir=data_dir)\n"
             "ctx.recorder.add('I.P3', 'test accuracy', 0.5 + seed / 100)\nctx.finish(show=False)")
    write_nb(src / "part1" / "02_fails.ipynb", "x = 1", "raise ValueError('planted failure')", "y = 2")
    write_nb(src / "scorecard.ipynb", "import os\nassert os.environ['IDL_RESULTS_DIR']")
    return src, tmp_path / "book"


def test_runs_all_reports_failure_and_keeps_going(tiny):
    src, book = tiny
    runs = runner.run_notebooks("smoke", seed=7, source_root=src, book_root=book, progress=False)
    by = {r.name: r for r in runs}
    assert [r.name for r in runs] == ["01_ok", "02_fails", "scorecard"]  # scorecard last
    assert by["01_ok"].status == "ok" and by["scorecard"].status == "ok"
    assert by["02_fails"].status == "failed" and by["02_fails"].failed_cell == 4
    assert "planted failure" in by["02_fails"].error and "cell In [4]" in by["02_fails"].describe()
    assert all(r.wall_time_s > 0 for r in runs)
    # (In [4]: the parameters cell, papermill's injected parameters, "x = 1", then the failure)
    # the failed run never reaches the book; its executed copy, with the traceback, is kept aside
    assert not (book / "part1" / "02_fails.ipynb").exists()
    copy = book.parent / "_build" / "failed" / "smoke" / "part1" / "02_fails.ipynb"
    assert by["02_fails"].output == str(copy)
    executed = nbformat.read(copy, as_version=4)
    assert any("planted failure" in json.dumps(c.get("outputs", [])) for c in executed.cells)
    ok = nbformat.read(book / "part1" / "01_ok.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in ok.cells)
    saved = json.loads((book / "results" / "smoke" / "01_ok.json").read_text())
    assert saved["seed"] == 7 and saved["records"][0]["value"] == pytest.approx(0.57)
    log = json.loads((book / "results" / "runs-smoke.json").read_text())
    assert [n["status"] for n in log["notebooks"]] == ["ok", "failed", "ok"]
    ok_entries = [n for n in log["notebooks"] if n["status"] == "ok"]
    assert all({"device", "versions", "git_commit", "wall_time_s", "inputs"} <= set(n) for n in ok_entries)
    assert log["notebooks"][1]["last_attempt"]["failed_cell"] == 4
    assert not list(book.glob(".run-*"))  # the staging folder is gone


def test_parallel_jobs_and_only(tiny):
    src, book = tiny
    runs = runner.run_notebooks("smoke", only=["01", "02_fails"], jobs=2, source_root=src, book_root=book,
                                progress=False)
    assert [r.status for r in runs] == ["ok", "failed"]
    runner.run_notebooks("smoke", only=["scorecard"], source_root=src, book_root=book, progress=False)
    log = json.loads((book / "results" / "runs-smoke.json").read_text())
    assert [n["name"] for n in log["notebooks"]] == ["01_ok", "02_fails", "scorecard"]  # merged, not replaced


@pytest.mark.heavy  # three real kernels (≈ 20 s): with the slow fault probes, so `make test` stays under 5 min
def test_a_lighter_run_keeps_the_more_thorough_page(tiny):
    src, book = tiny
    runner.run_notebooks("quick", only=["01_ok"], source_root=src, book_root=book, progress=False)
    assert runner.executed_profile(book / "part1" / "01_ok.ipynb") == "quick"
    again = runner.run_notebooks("quick", only=["01_ok"], source_root=src, book_root=book, progress=False)
    assert again[0].replaced_profile is None
    page = (book / "part1" / "01_ok.ipynb").read_text()
    # the book keeps the more thorough page; the lighter run's numbers and copy are kept beside it
    smoke = runner.run_notebooks("smoke", only=["01_ok"], source_root=src, book_root=book, progress=False)
    assert smoke[0].kept_profile == "quick" and smoke[0].replaced_profile is None
    assert (book / "part1" / "01_ok.ipynb").read_text() == page
    assert runner.executed_profile(book.parent / "_build" / "executed" / "smoke" / "part1" / "01_ok.ipynb") == "smoke"
    assert (book / "results" / "smoke" / "01_ok.json").exists()
    from idl_book.page_status import page_status
    state = {p.name: p for p in page_status("smoke", source_root=src, book_root=book)}["01_ok"]
    assert state.state == "current" and "the book shows its quick run" in state.detail
    forced = runner.run_notebooks("smoke", only=["01_ok"], source_root=src, book_root=book, progress=False,
                                  replace_thorough=True)
    assert forced[0].replaced_profile == "quick"
    assert runner.executed_profile(book / "part1" / "01_ok.ipynb") == "smoke"


def test_the_thread_count_is_fixed_whatever_jobs_and_cores(tiny, monkeypatch, tmp_path):
    """Numbers depend on the thread count, so it is the same for every --jobs and every machine;
    only the worker processes a kernel may start (speed, not numbers) follow the cores."""
    from idl_helpers.core import environment, parallel

    monkeypatch.delenv(environment.THREADS_ENV, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # a user's stray setting does not change the numbers
    monkeypatch.setattr(parallel, "cores", lambda: 4)
    assert [runner.workers_per_kernel(j) for j in (1, 2, 8)] == [4, 2, 1]
    src = tmp_path / "nb"
    write_nb(src / "part1" / "01_threads.ipynb",
             "import os, torch\n"
             f"assert os.environ['OMP_NUM_THREADS'] == '{environment.THREADS}', os.environ.get('OMP_NUM_THREADS')\n"
             f"assert torch.get_num_threads() == {environment.THREADS}\n"
             "assert torch.backends.cpu.get_cpu_capability() in ('AVX2', 'DEFAULT')\n"
             "print(os.environ['IDL_WORKERS'], os.environ.get('MKL_CBWR'))")
    write_nb(src / "part1" / "02_other.ipynb", "pass")
    for jobs in (1, 2):
        runs = runner.run_notebooks("smoke", jobs=jobs, source_root=src, book_root=tmp_path / f"b{jobs}",
                                    progress=False)
        assert [r.status for r in runs] == ["ok", "ok"], [r.error for r in runs]
        entry = json.loads((tmp_path / f"b{jobs}" / "results" / "runs-smoke.json").read_text())["notebooks"][0]
        assert entry["parameters"]["threads_per_kernel"] == environment.THREADS
        assert entry["numerics"]["threads"] == environment.THREADS and entry["numerics"]["cpu"]
    assert os.environ["OMP_NUM_THREADS"] == "7"  # an in-process run leaves the caller's environment alone
    monkeypatch.setenv(environment.THREADS_ENV, "zero")
    with pytest.raises(runner.RunnerError, match="IDL_THREADS"):
        runner.run_notebooks("smoke", source_root=src, book_root=tmp_path / "b3", progress=False)


def test_parameters_are_validated_before_running(tiny):
    src, book = tiny
    with pytest.raises(runner.RunnerError, match="valid profiles are: smoke, quick, full"):
        runner.run_notebooks("medium", source_root=src, book_root=book)
    with pytest.raises(runner.RunnerError, match="no notebook matches"):
        runner.run_notebooks("smoke", only=["nope"], source_root=src, book_root=book)
    with pytest.raises(runner.RunnerError, match="seed"):
        runner.run_notebooks("smoke", seed="1", source_root=src, book_root=book)
    with pytest.raises(runner.RunnerError, match="device"):
        runner.run_notebooks("smoke", device="tpu", source_root=src, book_root=book)
    assert not book.exists()  # nothing ran


def test_cli_exit_codes(tiny, monkeypatch, capsys):
    src, book = tiny
    monkeypatch.setattr(environment, "notebooks_dir", lambda: src)
    monkeypatch.setattr(environment, "book_dir", lambda: book)
    monkeypatch.setenv("IDL_RESULTS_DIR", str(book / "results"))
    assert cli.main(["run", "--profile", "smoke", "--only", "01_ok"]) == 0
    assert cli.main(["run", "--profile", "smoke"]) == 1
    err = capsys.readouterr().err
    assert "FAILED: 02_fails: FAILED in cell In [4]: ValueError: planted failure" in err
    with pytest.raises(SystemExit):
        cli.main(["run", "--profile", "medium"])


def test_summary_pages_run_after_the_pages_they_read(tiny):
    src, book = tiny
    write_nb(src / "part1" / "09_summary.ipynb",
             "from idl_helpers.core import results\nimport pathlib\n"
             "assert set(results.load('smoke')['notebook']) == {'01_ok'}, results.load('smoke')")
    assert runner.is_summary(src / "part1" / "09_summary.ipynb")
    assert not runner.is_summary(src / "part1" / "01_ok.ipynb") and runner.is_summary(src / "scorecard.ipynb")
    runs = runner.run_notebooks("smoke", jobs=2, source_root=src, book_root=book, progress=False)
    assert [r.name for r in runs][-2:] == ["09_summary", "scorecard"]
    assert {r.name: r.status for r in runs}["09_summary"] == "ok", [r.describe() for r in runs]


def _reaches_results_load(nb_path) -> bool:
    """Whether a page's code, or an experiments object it calls, reads other pages' results."""
    import ast
    import importlib
    import inspect

    nb = json.loads(Path(nb_path).read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    if "results.load(" in code:
        return True
    tree = ast.parse(code)
    aliases = {a.asname or a.name: f"idl_helpers.experiments.{a.name}" for n in ast.walk(tree)
               if isinstance(n, ast.ImportFrom) and n.module == "idl_helpers.experiments" for a in n.names}
    for n in ast.walk(tree):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in aliases:
            obj = getattr(importlib.import_module(aliases[n.value.id]), n.attr, None)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and "results.load(" in inspect.getsource(obj):
                return True
    return False


def test_every_page_that_reads_other_pages_results_runs_as_a_summary():
    """A page reading other pages' numbers must run after them and record them as inputs — also when
    the reading moved into an experiments module (23's comparison did, and ran before 22 finished)."""
    from idl_book.pages import is_summary

    from idl_helpers.core import environment

    sources = sorted((environment.REPO_ROOT / "notebooks").rglob("*.ipynb"))
    readers = [p.stem for p in sources if _reaches_results_load(p)]
    assert "23_I_P2_4_comparison" in readers and "scorecard" in readers
    assert [n for n in readers if not is_summary(next(p for p in sources if p.stem == n))] == []
    assert not any(is_summary(p) for p in sources if p.stem.startswith(("20_", "21_", "22_")))
