"""The install instructions agree with each other, and CI runs the README's test command."""

from __future__ import annotations

import re
import tomllib

import yaml

from idl_helpers.core import environment

ROOT = environment.REPO_ROOT


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip().strip('"'), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = sorted(py["dependencies"] + py["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = sorted(d for d in pip if not d.startswith("-"))
    assert listed == wanted
    assert "-e ." in pip and "-c constraints.txt" in pip
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.replace("python", "") == py["requires-python"]


def test_constraints_pin_every_direct_dependency():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {_name(l.split("==")[0]) for l in (ROOT / "constraints.txt").read_text().splitlines()
              if "==" in l and not l.startswith("#")}
    for req in py["dependencies"] + py["optional-dependencies"]["test"]:
        assert _name(req).replace("_", "-") in {p.replace("_", "-") for p in pinned}, req


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)
    # `make test` leaves the heavy end-to-end tests out: CI runs them too, and fails when they fail
    assert re.search(r"^make test-heavy \|\| heavy=\$\?$", ci, flags=re.M) and re.search(r'^exit "\$heavy"$', ci, flags=re.M)
    first_block = re.search(r"```(?:bash)?\n(.*?)```", readme, flags=re.S).group(1)
    assert "make book" in first_block and "make test" in first_block
