"""The GitHub workflows: actionlint finds nothing, and the book workflow's own steps run here.

The replay reads the ``execute`` and ``publish`` jobs of ``.github/workflows/book.yml`` and runs
their ``run:`` steps in order, in a copy of the repository (its tracked files), under the
``smoke`` profile on the CPU for one fast notebook and the scorecard. A step that no longer
matches the Makefile or the CLI fails here, not on the GPU runner. What the replay does not run:
``uses:`` steps (GitHub's own actions), steps whose ``if:`` is ``failure()`` (nothing failed;
the failure report is tested on its own below), the job-level ``if:`` of ``publish``, and the
install: ``make install`` runs as ``make --dry-run install`` with ``VENV`` set to the test's own
environment, so nothing is installed anywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from idl_helpers import paths, runner

ROOT = paths.REPO_ROOT
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
BOOK = GITHUB / "workflows" / "book.yml"
TESTS = GITHUB / "workflows" / "test.yml"

#: the replay's workflow_dispatch inputs: seconds of work instead of the GPU's hours
REPLAY_INPUTS = {"profile": "smoke", "notebooks": "01_II_1a_4a_softmax_perplexity scorecard", "device": "cpu"}
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load(path: Path) -> dict:
    wf = yaml.safe_load(path.read_text())
    if True in wf:  # YAML 1.1 reads the key `on` as the boolean true
        wf["on"] = wf.pop(True)
    return wf


def steps(job: dict, uses: str = "", name: str = "") -> list[dict]:
    return [s for s in job["steps"] if (uses and s.get("uses", "").startswith(uses))
            or (name and s.get("name") == name)]


# --- actionlint ------------------------------------------------------------------------------

def test_actionlint_finds_nothing():
    exe = (shutil.which("actionlint", path=str(Path(sys.executable).parent))
           or shutil.which("actionlint"))
    assert exe, "actionlint not found: it comes with the test extra (pip install -c constraints.txt -e '.[test]')"
    proc = subprocess.run([exe, "-no-color", "-config-file", str(GITHUB / "actionlint.yaml"), *map(str, WORKFLOWS)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"actionlint:\n{proc.stdout}{proc.stderr}"


# --- what the workflows promise ----------------------------------------------------------------

def test_every_job_times_out_pins_its_actions_and_keeps_expressions_out_of_scripts():
    assert {p.name for p in WORKFLOWS} >= {"book.yml", "test.yml"}
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            where = f"{path.name}: {name}"
            assert isinstance(job.get("timeout-minutes"), int), f"{where}: no timeout-minutes"
            for step in job["steps"]:
                if "uses" in step:
                    assert re.fullmatch(r"actions/[\w.-]+(/[\w.-]+)?@v\d+", step["uses"]), f"{where}: {step['uses']}"
                else:
                    # expressions reach scripts through env: (no injection, and the replay can set them)
                    assert "${{" not in step["run"], f"{where}: an expression inside run: {step['run']!r}"
                    assert "shared/" not in step["run"], f"{where}: a step depends on ../shared"


def test_book_workflow_triggers_jobs_and_artifact():
    wf = load(BOOK)
    on = wf["on"]
    assert set(on) == {"push", "schedule", "workflow_dispatch"}, "never pull_request: fork code would run on the GPU"
    assert on["push"] == {"branches": ["main"]} and on["schedule"]
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["profile"]["default"] == "full" and inputs["notebooks"]["default"] == ""
    execute, publish = wf["jobs"]["execute"], wf["jobs"]["publish"]
    assert execute["runs-on"] == ["self-hosted", "linux", "x64", "gpu"]
    assert execute["concurrency"]["cancel-in-progress"] is False
    (upload,) = steps(execute, uses="actions/upload-artifact")
    assert upload["if"] == "always()"
    assert {"book/**/*.ipynb", "book/results/", "_build/failed/"} <= set(upload["with"]["path"].split())
    assert publish["needs"] == "execute"
    assert publish["environment"]["name"] == "github-pages"
    assert {"pages": "write", "id-token": "write"}.items() <= publish["permissions"].items()
    order = [s.get("uses", "").split("@")[0] or s["run"] for s in publish["steps"]]
    (download,) = steps(publish, uses="actions/download-artifact")
    assert download["with"]["name"] == upload["with"]["name"]
    build = next((i for i, s in enumerate(order) if "idl-book\" build -W" in s), None)
    assert build is not None, "publish must build with warnings as errors: idl-book build -W"
    assert order.index("actions/download-artifact") < build < order.index("actions/upload-pages-artifact")
    assert order.index("actions/upload-pages-artifact") < order.index("actions/deploy-pages")


def test_test_workflow_runs_make_test_with_the_data_cached_by_the_registry():
    wf = load(TESTS)
    assert {"push", "pull_request"} <= set(wf["on"])
    (job,) = wf["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest" and job["env"]["IDL_REQUIRE_DATA"] == "1"
    (restore,) = steps(job, uses="actions/cache/restore")
    assert "hashFiles('idl_helpers/data/*.py'" in restore["with"]["key"]
    assert any(s.get("run", "").strip() == "make test" for s in job["steps"])
    fetch = next(s for s in job["steps"] if "fetch-data.sh" in s.get("run", ""))
    assert fetch["if"] == "steps.data.outputs.cache-hit != 'true'"
    script = GITHUB / "scripts" / "fetch-data.sh"
    assert os.access(script, os.X_OK) and "data fetch" in script.read_text()
    subprocess.run(["bash", "-n", str(script)], check=True)


# --- running the steps -------------------------------------------------------------------------

class Replay:
    """Runs a job's ``run:`` steps the way a GitHub runner would, in ``workspace``."""

    def __init__(self, workflow: dict, workspace: Path, tmp: Path, context: dict[str, str], env: dict[str, str]):
        self.workflow, self.workspace, self.context = workflow, workspace, context
        temp = tmp / "runner-temp"
        temp.mkdir(parents=True, exist_ok=True)
        self.files = {k: tmp / k.lower() for k in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
        for f in self.files.values():
            f.touch()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
        self.env = {**base, "CI": "true", "GITHUB_ACTIONS": "true", "RUNNER_TEMP": str(temp),
                    "GITHUB_WORKSPACE": str(workspace), **{k: str(v) for k, v in self.files.items()}, **env}
        self.log: list[str] = []

    def expr(self, value) -> str:
        """``${{ a || 'default' }}`` with ``a`` looked up in the replay's context."""
        def one(m: re.Match) -> str:
            value = ""
            for alt in (a.strip() for a in m.group(1).split("||")):
                if re.fullmatch(r"'[^']*'", alt):
                    value = alt[1:-1]
                elif alt in self.context:
                    value = self.context[alt]
                else:
                    pytest.fail(f"the replay does not know the expression `{alt}`: add it to its context")
                if value:
                    break
            return value
        return EXPR.sub(one, str(value))

    def run_step(self, step: dict, job_env: dict, overrides: dict) -> subprocess.CompletedProcess:
        script = step["run"]
        if script.strip() == "make install":
            script = "make --dry-run install"  # the Makefile's target must exist; nothing is installed
        env = {**self.env, **job_env, **self._exported(),
               **{k: self.expr(v) for k, v in step.get("env", {}).items()}, **overrides}
        extra_path = self.files["GITHUB_PATH"].read_text().split()
        env["PATH"] = os.pathsep.join([*reversed(extra_path), env["PATH"]])
        shell = step.get("shell") or self.workflow.get("defaults", {}).get("run", {}).get("shell", "bash")
        assert shell == "bash", f"the replay runs bash steps only, not {shell!r}"
        path = Path(self.env["RUNNER_TEMP"]) / "step.sh"
        path.write_text(script)
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)], cwd=self.workspace,
                              env=env, capture_output=True, text=True, timeout=600)

    def _exported(self) -> dict[str, str]:
        lines = self.files["GITHUB_ENV"].read_text().splitlines()
        assert not any("<<" in line for line in lines), "the replay reads only NAME=value lines from GITHUB_ENV"
        return dict(line.split("=", 1) for line in lines if line)

    def run_job(self, name: str, overrides: dict[str, str]) -> None:
        job = self.workflow["jobs"][name]
        job_env = {k: self.expr(v) for scope in (self.workflow.get("env", {}), job.get("env", {}))
                   for k, v in scope.items()}
        for step in job["steps"]:
            title = f"{name}: {step.get('name') or step.get('uses') or step['run'].splitlines()[0]}"
            condition = str(step.get("if", "success()")).strip()
            if "uses" in step:
                self.log.append(f"skipped (a GitHub action): {title}")
                continue
            if condition == "failure()":
                self.log.append(f"skipped (nothing failed): {title}")
                continue
            assert condition in ("success()", "always()"), f"the replay cannot evaluate `if: {condition}` ({title})"
            proc = self.run_step(step, job_env, overrides)
            self.log.append(f"ran: {title}")
            assert proc.returncode == 0, (f"step {title!r} exited {proc.returncode}\n" + "\n".join(self.log)
                                          + f"\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}")


def copy_repository(dest: Path) -> Path:
    """The repository's tracked files (as they are in the working tree), copied to ``dest``."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout: the replay copies the tracked files")
    for rel in filter(None, listed.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_execute_and_publish_steps_run_here(tmp_path, mirror):
    venv = Path(sys.prefix)
    if not (venv / "bin" / "idl-book").exists():
        pytest.skip(f"idl-book is not installed in {venv}: the replay uses the test's own environment")
    before = snapshot(ROOT / "book")
    copy = copy_repository(tmp_path / "repo")
    context = {"runner.temp": str(tmp_path / "runner-temp"), "github.workspace": str(copy),
               "vars.IDL_DATA_DIR": str(mirror), "vars.IDL_PYTHON": "",
               **{f"{scope}.{k}": v for k, v in REPLAY_INPUTS.items() for scope in ("inputs", "github.event.inputs")}}
    env = {"PYTHONPATH": str(copy),  # the copy's idl_helpers, not the editable install's
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    replay = Replay(load(BOOK), copy, tmp_path, context, env)
    for job in ("execute", "publish"):
        replay.run_job(job, overrides={"VENV": str(venv)})

    stems = REPLAY_INPUTS["notebooks"].split()
    executed = {p.stem: p for p in (copy / "book").rglob("*.ipynb") if p.stem in stems}
    assert set(executed) == set(stems)
    log = {e["name"]: e for e in json.loads((copy / "book" / "results" / "runs-smoke.json").read_text())["notebooks"]}
    for stem, path in executed.items():
        assert log[stem]["status"] == "ok" and "last_attempt" not in log[stem], f"{stem} did not run"
        # the book keeps a more thorough committed page; the smoke run's copy is kept beside it
        shown = runner.executed_profile(path)
        kept = copy / "_build" / "executed" / "smoke" / path.relative_to(copy / "book")
        assert shown == "smoke" or runner.executed_profile(kept) == "smoke", f"{stem} was not re-executed"
    assert (copy / "book" / "results" / "smoke" / f"{stems[0]}.json").is_file()
    html = copy / "_build" / "html"
    assert (html / "index.html").is_file()
    for path in executed.values():
        assert (html / path.relative_to(copy)).with_suffix(".html").is_file()
    assert "FAILED" not in (copy / "_build" / "execute.log").read_text()
    assert snapshot(ROOT / "book") == before, "the replay changed the repository's book/"


def test_failed_notebooks_are_named_in_error_annotations(tmp_path, monkeypatch, capsys):
    """The execute job's failure step turns the runner's own failure lines into annotations."""
    from idl_helpers import cli

    failed = runner.NotebookRun("10_II_3_char_lm", "src.ipynb", "book/part2/10_II_3_char_lm.ipynb", "failed", 2.0,
                                error="ZeroDivisionError: division by zero", failed_cell=7)
    monkeypatch.setattr(runner, "run_notebooks", lambda *a, **k: [failed])
    assert cli.main(["run", "--profile", "smoke", "--device", "cpu"]) == 1
    out = capsys.readouterr()
    (tmp_path / "ws" / "_build").mkdir(parents=True)
    (tmp_path / "ws" / "_build" / "execute.log").write_text(out.out + out.err)
    wf = load(BOOK)
    (step,) = [s for s in wf["jobs"]["execute"]["steps"] if s.get("if") == "failure()"]
    replay = Replay(wf, tmp_path / "ws", tmp_path, {}, {})
    proc = replay.run_step(step, {}, {})
    assert proc.returncode != 0, "the job must end failed"
    assert "::error title=notebook failed::10_II_3_char_lm: FAILED in cell In [7]: ZeroDivisionError" in proc.stdout
    assert "10_II_3_char_lm: FAILED in cell In [7]" in replay.files["GITHUB_STEP_SUMMARY"].read_text()

    # a run that could not start (e.g. --device cuda where torch sees no GPU) is named too
    def refuse(*a, **k):
        raise runner.RunnerError("device 'cuda' requested but torch sees no CUDA GPU")
    monkeypatch.setattr(runner, "run_notebooks", refuse)
    assert cli.main(["run", "--profile", "smoke", "--device", "cpu"]) == 2
    out = capsys.readouterr()
    (tmp_path / "ws" / "_build" / "execute.log").write_text(out.out + out.err)
    proc = replay.run_step(step, {}, {})
    assert proc.returncode != 0 and "::error title=idl-book run::device 'cuda'" in proc.stdout
