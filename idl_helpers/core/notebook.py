"""What every notebook does first and last.

First cell after the ``parameters`` cell::

    from idl_helpers.core.notebook import setup
    ctx = setup("II_1a_4a_softmax_perplexity", profile=profile, seed=seed, device=device, data_dir=data_dir)
    rec = ctx.recorder

Last cell::

    ctx.finish()   # saves the results JSON and shows them beside the report's numbers
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from idl_helpers.core import device as device_mod
from idl_helpers.core import numerics, paths, reports, tables
from idl_helpers.core.compare import show_compare
from idl_helpers.core.profiles import check_profile
from idl_helpers.core.results import Recorder, git_commit, versions


@dataclass
class Context:
    name: str
    profile: str
    seed: int
    device: str
    recorder: Recorder

    def finish(self, show: bool = True):
        """Save the results and return (for display) our numbers beside the report's.

        Every record is also glued (``myst_nb.glue``) under :func:`idl_helpers.core.tables.glue_key`
        of its question and metric, so a markdown cell anywhere on the page can quote it with
        ``{glue}`key``` and the prose follows the numbers of the run.

        Raises :class:`~idl_helpers.core.reports.HeadlineError` — after saving, so the records can be
        inspected — when a question whose headline this page answers (:data:`reports.ANSWERED_ON`)
        has no headline record, or a number headline that is NaN/inf/None: the runner then reports
        the page "failed" instead of rendering "not run" beside an older number.
        """
        path = self.recorder.save()
        glue_records(self.recorder.records)
        problems = reports.headline_problems(self.name, self.recorder.records)
        if problems:
            raise reports.HeadlineError(f"{self.name} ({self.profile}): " + "; ".join(problems)
                                        + f". The records were saved to {path}.")
        if not show:
            return path
        return show_compare(self.recorder.records)


def glue_records(records: list[dict]) -> None:
    """Glue each record's value, formatted as the tables show it (nothing displayed)."""
    try:
        from IPython import get_ipython
        from myst_nb import glue
    except ImportError:  # pragma: no cover
        return
    if get_ipython() is None:
        return
    from idl_helpers.core.tables import Text, fmt, glue_key

    latest = {glue_key(r["question"], r["metric"]): r["value"] for r in records}  # a key glued twice warns
    for key, value in latest.items():
        glue(key, Text(fmt(value)), display=False)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one number."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def plot_style() -> None:
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (7, 4),
                         "axes.titleweight": "bold"})


def setup(name: str, *, profile: str, seed: int = 0, device: str = "auto", data_dir: str = "",
          data_variant: str | None = None) -> Context:
    """Validate the papermill parameters, seed everything, pick the device, start a Recorder."""
    check_profile(profile)
    if data_dir:
        if not Path(data_dir).is_dir():
            raise FileNotFoundError(f"data_dir={data_dir!r} is not a directory")
        os.environ[paths.DATA_DIR_ENV] = str(Path(data_dir).resolve())
    dev = device_mod.resolve(device)
    numerics.apply()  # the runner's thread count, also in a notebook opened by hand
    seed_everything(seed)
    plot_style()
    tables.install()  # every DataFrame shown on the page: no index, no NaN, no truncation
    described = device_mod.describe(dev)
    rec = Recorder(name, profile=profile, seed=seed, device=described, data_variant=data_variant)
    v = versions()
    pinned = all(os.environ.get(k) == v for k, v in numerics.code_paths().items())
    print(f"Executed with profile={profile!r}, seed={seed}, device={described}\n"
          f"torch {v['torch']}, numpy {v['numpy']}, commit {git_commit()}"
          + ("" if pinned or not dev.startswith("cpu") else
             "\nnote: CPU code paths not pinned (run it with `idl-book run` to reproduce the book's numbers "
             "to the last digit)"))
    return Context(name, profile, int(seed), dev, rec)
