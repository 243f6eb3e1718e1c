"""The GitHub workflows: actionlint finds nothing, and the book workflow's own steps run here.

The replay reads the ``execute`` and ``publish`` jobs of ``.github/workflows/book.yml`` and runs
their ``run:`` steps in order, in a copy of the repository (its tracked files), under the
``smoke`` profile on the CPU for one fast notebook and the scorecard. A step that no longer
matches the Makefile or the CLI fails here, not on the GPU runner. What the replay does not run:
``uses:`` steps (GitHub's own actions), steps whose ``if:`` is ``failure()`` (nothing failed;
the failure report is tested on its own below), the job-level ``if:`` of ``publish``, and the
install: ``make install`` runs as ``make --dry-run install`` with ``VENV`` set to the test's own
environment, so nothing is installed anywhere.

The execute step's own logic is replayed apart: with a stand-in ``idl-book`` (which pages a run
executes), and with the real one on a notebook that sleeps, cancelled the way GitHub's runner
cancels a step (the signal reaches idl-book, which stops its kernel and marks the page
interrupted). The launch-button tests at the end read ``_config.yml`` and build a one-page book.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from idl_helpers.core import environment
from idl_book import runner

ROOT = environment.REPO_ROOT
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
BOOK = GITHUB / "workflows" / "book.yml"
TESTS = GITHUB / "workflows" / "test.yml"

#: the replay's workflow_dispatch inputs: seconds of work instead of the GPU's hours
REPLAY_INPUTS = {"profile": "smoke", "notebooks": "01_II_1a_4a_softmax_perplexity scorecard", "device": "cpu",
                 "everything": "", "cell_timeout": "600"}
#: ``uses: owner/repo[/path]@<commit> # vX[.Y[.Z]]``: a tag can be moved, a commit cannot
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w.-]+(?:/[\w./-]+)?)@([0-9a-f]{40})\s+#\s+(v\d+(?:\.\d+){0,2})\s*$")
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
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}", step["uses"]), \
                        f"{where}: {step['uses']} is not pinned to a full commit SHA"
                    if step["uses"].startswith("actions/checkout@"):
                        # no step pushes: the job's token is not left in .git/config for every later step
                        assert step.get("with", {}).get("persist-credentials") is False, \
                            f"{where}: actions/checkout without persist-credentials: false"
                else:
                    # expressions reach scripts through env: (no injection, and the replay can set them)
                    assert "${{" not in step["run"], f"{where}: an expression inside run: {step['run']!r}"
                    assert "shared/" not in step["run"], f"{where}: a step depends on ../shared"


def test_every_action_is_pinned_by_commit_with_its_version_beside_it():
    """Each ``uses:`` line: a full commit SHA and, in a comment, the release it is (to read and to
    update); one action at one version has one commit everywhere."""
    seen: dict[tuple[str, str], str] = {}
    for path in WORKFLOWS:
        lines = [ln for ln in path.read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", ln)]
        assert lines, f"{path.name}: no action used?"
        for line in lines:
            m = PINNED.match(line)
            assert m, f"{path.name}: `{line.strip()}` is not `uses: owner/repo@<40-hex commit> # vX.Y.Z`"
            action, sha, version = m.groups()
            repo = "/".join(action.split("/")[:2])
            assert seen.setdefault((repo, version), sha) == sha, f"{repo} {version} pinned to two commits"


def test_no_self_hosted_job_runs_for_a_pull_request():
    """A pull request from a fork runs its author's workflow files: a workflow that a pull request
    triggers must not reach the self-hosted GPU machine (runs-on ``self-hosted`` or its label)."""
    labels = set(yaml.safe_load((GITHUB / "actionlint.yaml").read_text())["self-hosted-runner"]["labels"])
    for path in WORKFLOWS:
        wf = load(path)
        on = wf["on"]
        triggers = {on} if isinstance(on, str) else set(on)
        if not triggers & {"pull_request", "pull_request_target"}:
            continue
        for name, job in wf["jobs"].items():
            runs_on = job.get("runs-on", [])
            runs_on = runs_on.get("labels", []) if isinstance(runs_on, dict) else runs_on
            runs_on = {runs_on} if isinstance(runs_on, str) else set(runs_on)
            assert not runs_on & ({"self-hosted"} | labels), \
                f"{path.name}: {name} runs on {sorted(runs_on)} and the workflow runs for pull requests"


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
    assert upload["with"].get("overwrite") is True, "a re-run of the job uploads the artifact again"
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
    # upload-pages-artifact cannot overwrite: a re-run names its site after the attempt
    (pages,) = steps(publish, uses="actions/upload-pages-artifact")
    (deploy,) = steps(publish, uses="actions/deploy-pages")
    assert "github.run_attempt" in pages["with"]["name"] and deploy["with"]["artifact_name"] == pages["with"]["name"]
    # a hung cell fails its notebook instead of using up the job's 12 hours
    assert inputs["cell_timeout"]["type"] == "number" and 0 < inputs["cell_timeout"]["default"] < 60 * 720
    assert inputs["everything"] == {**inputs["everything"], "type": "boolean", "default": False}
    assert "--timeout \"$CELL_TIMEOUT\"" in steps(execute, name="Execute the notebooks")[0]["run"]


def test_test_workflow_runs_make_test_with_the_data_cached_by_the_registry():
    wf = load(TESTS)
    assert {"push", "pull_request"} <= set(wf["on"])
    (job,) = wf["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest" and job["env"]["IDL_REQUIRE_DATA"] == "1"
    (restore,) = steps(job, uses="actions/cache/restore")
    assert "hashFiles('idl_helpers/data/*.py'" in restore["with"]["key"]
    assert any(s.get("run", "").strip() == "make test" for s in job["steps"])
    # the heavy end-to-end tests `make test` leaves out run too, even after a failing `make test`
    heavy = next(s for s in job["steps"] if s.get("run", "").strip() == "make test-heavy")
    assert heavy["if"] == "${{ !cancelled() }}"
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
                    "RUNNER_TOOL_CACHE": str(tmp / "runner-tool-cache"),
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

    def job_env(self, name: str) -> dict[str, str]:
        job = self.workflow["jobs"][name]
        return {k: self.expr(v) for scope in (self.workflow.get("env", {}), job.get("env", {}))
                for k, v in scope.items()}

    def step_command(self, step: dict, job_env: dict, overrides: dict) -> tuple[list[str], dict[str, str]]:
        """The command line and environment GitHub's runner starts the step's shell with."""
        script = step["run"]
        if script.strip() == "make install":
            script = "make --dry-run install"  # the Makefile's target must exist; nothing is installed
        env = {**self.env, **job_env, **self._exported(),
               **{k: self.expr(v) for k, v in step.get("env", {}).items()}, **overrides}
        extra_path = self.files["GITHUB_PATH"].read_text().split()
        env["PATH"] = os.pathsep.join([*reversed(extra_path), env["PATH"]])
        shell = step.get("shell") or self.workflow.get("defaults", {}).get("run", {}).get("shell", "bash")
        assert shell == "bash", f"the replay runs bash steps only, not {shell!r}"
        path = Path(self.env["RUNNER_TEMP"]) / f"step-{time.monotonic_ns()}.sh"
        path.write_text(script)
        return ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)], env

    def run_step(self, step: dict, job_env: dict, overrides: dict) -> subprocess.CompletedProcess:
        cmd, env = self.step_command(step, job_env, overrides)
        return subprocess.run(cmd, cwd=self.workspace, env=env, capture_output=True, text=True, timeout=600)

    def _exported(self) -> dict[str, str]:
        lines = self.files["GITHUB_ENV"].read_text().splitlines()
        assert not any("<<" in line for line in lines), "the replay reads only NAME=value lines from GITHUB_ENV"
        return dict(line.split("=", 1) for line in lines if line)

    def run_job(self, name: str, overrides: dict[str, str]) -> None:
        job = self.workflow["jobs"][name]
        job_env = self.job_env(name)
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
@pytest.mark.heavy  # a minute of CPU (executes pages, builds the book): `make test-heavy` (CI runs it)
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
    from idl_book import cli

    failed = runner.NotebookRun("10_II_3_char_lm", "src.ipynb", "book/part2/10_II_3_char_lm.ipynb", "failed", 2.0,
                                error="ZeroDivisionError: division by zero", failed_cell=7)
    percent = runner.NotebookRun("20_II_5ade_dan", "src.ipynb", "book/part2/20_II_5ade_dan.ipynb", "failed", 2.0,
                                 error="AssertionError: accuracy 100% of the batch", failed_cell=3)
    monkeypatch.setattr(runner, "run_notebooks", lambda *a, **k: [failed, percent])
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
    summary = replay.files["GITHUB_STEP_SUMMARY"].read_text()
    assert "10_II_3_char_lm: FAILED in cell In [7]" in summary
    # a workflow command needs % escaped; the job summary is Markdown and shows the line as it is
    assert "::error title=notebook failed::20_II_5ade_dan: FAILED in cell In [3]: AssertionError: accuracy 100%25 of" \
        in proc.stdout
    assert "accuracy 100% of the batch" in summary and "%25" not in summary

    # a run that could not start (e.g. --device cuda where torch sees no GPU) is named too
    def refuse(*a, **k):
        raise runner.RunnerError("device 'cuda' requested but torch sees no CUDA GPU")
    monkeypatch.setattr(runner, "run_notebooks", refuse)
    assert cli.main(["run", "--profile", "smoke", "--device", "cpu"]) == 2
    out = capsys.readouterr()
    (tmp_path / "ws" / "_build" / "execute.log").write_text(out.out + out.err)
    proc = replay.run_step(step, {}, {})
    assert proc.returncode != 0 and "::error title=idl-book run::device 'cuda'" in proc.stdout


# --- the execute job: its environment, what it runs, a cancel -----------------------------------

def _context(tmp_path: Path, workspace: Path, **inputs: str) -> dict[str, str]:
    given = {"profile": "", "notebooks": "", "everything": "", "device": "", "cell_timeout": "", **inputs}
    return {"runner.temp": str(tmp_path / "runner-temp"), "github.workspace": str(workspace),
            "vars.IDL_DATA_DIR": "", "vars.IDL_PYTHON": "",
            **{f"{scope}.{k}": v for k, v in given.items() for scope in ("inputs", "github.event.inputs")}}


def test_the_environment_lives_outside_the_workspace_keyed_by_the_constraints(tmp_path):
    """actions/checkout cleans the workspace: the venv (the CUDA wheel) is kept in the runner's tool
    cache, one per constraints.txt and interpreter, and the ones of older constraints are removed."""
    wf = load(BOOK)
    (step,) = steps(wf["jobs"]["execute"], name="Where the environment lives")
    ws = tmp_path / "ws"
    ws.mkdir()

    def venv_for(constraints: str) -> Path:
        (ws / "constraints.txt").write_text(constraints)
        replay = Replay(wf, ws, tmp_path, _context(tmp_path, ws), {})
        replay.files["GITHUB_ENV"].write_text("")
        proc = replay.run_step(step, replay.job_env("execute"), {})
        assert proc.returncode == 0, proc.stderr
        venv = Path(replay._exported()["VENV"])
        (venv / "bin").mkdir(parents=True, exist_ok=True)  # what `make install` would create there
        return venv

    first = venv_for("torch==2.5.1\n")
    cache = tmp_path / "runner-tool-cache"
    assert first.is_relative_to(cache) and not first.is_relative_to(ws)
    assert venv_for("torch==2.5.1\n") == first and first.is_dir(), "the same constraints: the same environment"
    second = venv_for("torch==2.6.0\n")
    assert second != first and second.is_relative_to(cache)
    assert not first.exists(), "the environment of the old constraints is left behind"
    execute = steps(wf["jobs"]["execute"], name="Execute the notebooks")[0]["run"]
    assert '"$VENV/bin/idl-book"' in execute and "VENV" not in wf.get("env", {}) | wf["jobs"]["execute"].get("env", {})


FAKE_IDL_BOOK = r"""#!/usr/bin/env bash
# records its command line; `status` answers from $FAKE_BEFORE until a run happened, then $FAKE_AFTER
echo "$*" >> "$FAKE_CALLS"
case $1 in
  status)
    if grep -q '^run' "$FAKE_CALLS"; then names=$FAKE_AFTER; else names=$FAKE_BEFORE; fi
    [ -z "$names" ] && exit 0
    printf '%s\n' $names
    exit 1 ;;
  run) exit "${FAKE_RUN_RC:-0}" ;;
esac
exit 9
"""


@pytest.mark.parametrize("inputs,before,after,rc,expected", [
    # a push or the schedule: the pages status names, then the scorecard that their new numbers made stale
    ({}, "02_b 03_c", "scorecard", 0,
     ["status --profile full --names", "run --profile full --device cuda --timeout 3600 --only 02_b 03_c",
      "status --profile full --names", "run --profile full --device cuda --timeout 3600 --only scorecard"]),
    # a page that failed again is not re-run in the same job
    ({}, "03_c", "03_c", 1,
     ["status --profile full --names", "run --profile full --device cuda --timeout 3600 --only 03_c",
      "status --profile full --names"]),
    ({}, "", "", 0, ["status --profile full --names"]),  # everything current: nothing runs
    ({"everything": "true", "cell_timeout": "120", "profile": "quick"}, "02_b", "", 0,
     ["run --profile quick --device cuda --timeout 120"]),
    ({"notebooks": "01_a 02", "everything": "true", "device": "cpu"}, "03_c", "", 0,
     ["run --profile full --device cpu --timeout 3600 --only 01_a 02"]),
])
def test_the_execute_step_runs_what_is_not_current(tmp_path, inputs, before, after, rc, expected):
    wf = load(BOOK)
    (step,) = steps(wf["jobs"]["execute"], name="Execute the notebooks")
    fake = tmp_path / "fake-venv"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "idl-book").write_text(FAKE_IDL_BOOK)
    (fake / "bin" / "idl-book").chmod(0o755)
    ws = tmp_path / "ws"
    ws.mkdir()
    calls = tmp_path / "calls"
    calls.touch()
    replay = Replay(wf, ws, tmp_path, _context(tmp_path, ws, **inputs), {})
    proc = replay.run_step(step, replay.job_env("execute"), {
        "VENV": str(fake), "FAKE_CALLS": str(calls), "FAKE_BEFORE": before, "FAKE_AFTER": after,
        "FAKE_RUN_RC": str(rc)})
    assert proc.returncode == rc, proc.stdout + proc.stderr
    assert calls.read_text().splitlines() == expected
    assert (ws / "_build" / "execute.log").read_text() == proc.stdout  # tee: the log holds what the job log shows


def test_status_names_prints_only_the_pages_that_are_not_current(monkeypatch, capsys):
    """``idl-book status --names``: what the execute job runs by default, one name a line."""
    from idl_book import cli, page_status

    pages = [page_status.PageStatus("01_a", "full", "current"), page_status.PageStatus("02_b", "full", "stale"),
             page_status.PageStatus("03_c", "full", "failed"), page_status.PageStatus("04_d", None, "missing"),
             page_status.PageStatus("05_e", "full", "interrupted")]
    monkeypatch.setattr(page_status, "page_status", lambda profile=None: pages)
    assert cli.main(["status", "--profile", "full", "--names"]) == 1
    assert capsys.readouterr().out.splitlines() == ["02_b", "03_c", "04_d", "05_e"]
    monkeypatch.setattr(page_status, "page_status", lambda profile=None: pages[:1])
    assert cli.main(["status", "--names"]) == 0
    assert capsys.readouterr().out == ""


def _default_signals():
    # as GitHub's runner starts a step: Ctrl-C's and SIGTERM's default dispositions, whatever this
    # process inherited (pytest started from a background job inherits SIGINT ignored)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_cancelled_execute_step_stops_idl_book_and_marks_the_run_interrupted(tmp_path, sig):
    """GitHub cancels a step (a cancel or timeout-minutes) by signalling its shell only: SIGINT,
    7.5 s later SIGTERM, 2.5 s later it kills the process tree. The step must pass the signal on to
    idl-book, which then stops its kernel, removes its staging folder and marks the page interrupted
    in the run log — before the runner's kill, and leaving no process behind."""
    psutil = pytest.importorskip("psutil")
    from test_runner import write_nb

    venv = Path(sys.prefix)
    if not (venv / "bin" / "idl-book").exists():
        pytest.skip(f"idl-book is not installed in {venv}: the replay uses the test's own environment")
    # a repository of its own: the package, one notebook that says it has started and then sleeps
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "idl_helpers", repo / "idl_helpers", ignore=shutil.ignore_patterns("__pycache__"))
    mark = tmp_path / "started"
    write_nb(repo / "notebooks" / "part1" / "01_sleepy.ipynb",
             f"import pathlib, time\npathlib.Path({str(mark)!r}).write_text('sleeping')\ntime.sleep(120)")
    (repo / "book").mkdir()
    wf = load(BOOK)
    (step,) = steps(wf["jobs"]["execute"], name="Execute the notebooks")
    replay = Replay(wf, repo, tmp_path, _context(tmp_path, repo, profile="smoke", device="cpu"),
                    {"PYTHONPATH": str(repo)})
    cmd, env = replay.step_command(step, replay.job_env("execute"), {"VENV": str(venv)})
    env.pop(environment.RESULTS_DIR_ENV, None)
    out = tmp_path / "step.out"
    with out.open("w") as fh:
        shell = subprocess.Popen(cmd, cwd=repo, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, preexec_fn=_default_signals)
    procs = []
    try:
        t0 = time.monotonic()
        while not mark.exists():  # the default run found the page missing and its kernel is sleeping
            assert shell.poll() is None, f"the step ended before the notebook started:\n{out.read_text()}"
            assert time.monotonic() - t0 < 120, f"the notebook never started:\n{out.read_text()}"
            time.sleep(0.2)
        procs = psutil.Process(shell.pid).children(recursive=True)
        names = " ".join(sorted({p.name() for p in procs}))
        assert len(procs) >= 3, f"idl-book, tee and the kernel should be running: {names}"
        shell.send_signal(sig)  # the shell only, as GitHub's runner does
        try:
            rc = shell.wait(timeout=10)  # 7.5 s + 2.5 s: then the runner kills whatever is left
        except subprocess.TimeoutExpired:
            pytest.fail(f"the step did not end within the runner's 10 s after {sig.name}:\n{out.read_text()}")
        gone, alive = psutil.wait_procs(procs, timeout=10)
        assert not alive, f"left running after the step ended: {[p.cmdline() for p in alive]}"
    finally:
        for p in [psutil.Process(shell.pid), *procs] if shell.poll() is None else procs:
            try:
                p.kill()
            except psutil.Error:
                pass
        shell.wait(timeout=30)
    log = out.read_text()
    assert rc == 130, f"exit {rc}:\n{log}"
    assert not list((repo / "book").glob(".run-*")), "the runner's staging folder stayed"
    entry = {e["name"]: e for e in json.loads((repo / "book" / "results" / "runs-smoke.json").read_text())["notebooks"]}
    assert entry["01_sleepy"]["last_attempt"]["status"] == "interrupted", log
    assert "interrupted" in (repo / "_build" / "execute.log").read_text()


# --- launch buttons (_config.yml) --------------------------------------------------------------

CONFIG = ROOT / "_config.yml"
#: sphinx-book-theme's launch providers: any one set makes a button on every notebook page
PROVIDERS = ("binderhub_url", "jupyterhub_url", "thebe", "colab_url", "deepnote_url", "jupyterlite_url")
PLACEHOLDER = "https://github.com/OWNER/idl-book"


def _theme_options(user_yaml: dict) -> dict:
    """The html_theme_options jupyter-book gives the theme: the user's YAML over its defaults."""
    from jupyter_book.config import get_final_config

    config, _ = get_final_config(user_yaml=user_yaml, cli_config={"latex_individualpages": False},
                                 validate=False, use_external_toc=False)
    return config["html_theme_options"]


def _real_repository(url: str) -> bool:
    return bool(re.fullmatch(r"https://(github|gitlab)\.com/[\w.-]+/[\w.-]+/?", url or "")) \
        and "/OWNER/" not in url


def test_launch_buttons_only_for_a_real_repository_url():
    """The launch buttons' repository comes from one setting, ``repository.url``; while it is unset
    (or still the placeholder) no launch provider is configured, so the book has no buttons."""
    cfg = yaml.safe_load(CONFIG.read_text())
    url = (cfg.get("repository") or {}).get("url") or ""
    assert url.rstrip("/") != PLACEHOLDER, "the placeholder repository: every launch button would be a dead link"
    theme = _theme_options(cfg)
    providers = {k: v for k, v in theme.get("launch_buttons", {}).items() if k in PROVIDERS and v}
    if not _real_repository(url):
        assert not providers, f"launch buttons {sorted(providers)} without a real repository.url ({url!r})"
    assert not url or _real_repository(url), f"repository.url {url!r} is not https://github.com/<owner>/<repo>"


def _build_one_page(tmp_path: Path, cfg: dict) -> str:
    """The HTML of a one-notebook book built with ``cfg``'s repository, html and launch_buttons."""
    import nbformat

    exe = (shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book"))
    if not exe:
        pytest.skip("jupyter-book is not installed")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A page"), nbformat.v4.new_code_cell("1 + 1")],
                                  metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    tmp_path.mkdir(parents=True)
    nbformat.write(nb, tmp_path / "page.ipynb")
    mini = {"title": "t", "execute": {"execute_notebooks": "off"},
            **{k: cfg[k] for k in ("repository", "html", "launch_buttons") if k in cfg}}
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(mini))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    proc = subprocess.run([exe, "build", str(tmp_path), "-q", "-W", "-n", "--keep-going"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return (tmp_path / "_build" / "html" / "page.html").read_text()


def test_the_book_has_no_launch_buttons_until_the_repository_is_named_then_working_ones(tmp_path):
    cfg = yaml.safe_load(CONFIG.read_text())
    html = _build_one_page(tmp_path / "as-is", cfg)
    if not _real_repository((cfg.get("repository") or {}).get("url") or ""):
        assert "mybinder.org" not in html and "colab.research.google.com" not in html, "a launch button"
    assert "OWNER" not in html, "a placeholder link in the built page"
    # the README's way to have them: repository.url and the providers
    url = "https://github.com/some-user/idl-book"
    enabled = {**cfg, "repository": {**cfg["repository"], "url": url},
               "launch_buttons": {**cfg["launch_buttons"], "binderhub_url": "https://mybinder.org",
                                  "colab_url": "https://colab.research.google.com"}}
    html = _build_one_page(tmp_path / "enabled", enabled)
    branch = cfg["repository"]["branch"]
    assert f"https://mybinder.org/v2/gh/some-user/idl-book/{branch}?urlpath=tree/page.ipynb" in html
    assert f"https://colab.research.google.com/github/some-user/idl-book/blob/{branch}/page.ipynb" in html
