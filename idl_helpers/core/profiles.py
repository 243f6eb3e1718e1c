"""Run profiles.

``smoke``  CI: seconds per notebook, tiny subsets; proves the code runs end to end.
``quick``  a 2-core CPU: minutes per notebook, numbers that mean something.
``full``   the reports' own settings; meant for a CUDA GPU.

A notebook states its settings for all three in one call::

    cfg = settings(profile,
                   smoke=dict(epochs=1, n_train=512),
                   quick=dict(epochs=5, n_train=25_000),
                   full=dict(epochs=15, n_train=25_000))
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

PROFILES: tuple[str, ...] = ("smoke", "quick", "full")


class ProfileError(ValueError):
    """An unknown profile name."""


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ProfileError(
            f"unknown profile {profile!r}; valid profiles are: {', '.join(PROFILES)}"
        )
    return profile


def default_profile() -> str:
    """``full`` when a CUDA GPU is present, ``quick`` otherwise."""
    try:
        import torch

        if torch.cuda.is_available():
            return "full"
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return "quick"


def settings(profile: str, **per_profile: dict[str, Any]) -> SimpleNamespace:
    """Pick this profile's settings; every profile must be given, with the same keys."""
    check_profile(profile)
    missing = [p for p in PROFILES if p not in per_profile]
    extra = [p for p in per_profile if p not in PROFILES]
    if missing or extra:
        raise ProfileError(f"settings() needs exactly {PROFILES}; missing {missing}, unknown {extra}")
    keys = {p: set(v) for p, v in per_profile.items()}
    if len({frozenset(k) for k in keys.values()}) != 1:
        raise ProfileError(f"profiles set different keys: {keys}")
    _say_settings(profile, per_profile)
    return SimpleNamespace(profile=profile, **per_profile[profile])


def settings_sentence(profile: str, per_profile: dict[str, dict[str, Any]]) -> str:
    """One sentence: this run's settings that depend on the profile, and how the reports' own
    (``full``) differ — so every page says what it shows."""
    varying = [k for k in per_profile[profile]
               if len({repr(per_profile[p][k]) for p in PROFILES}) > 1]

    def show(k, v):
        if v is None and k.startswith("n_"):
            v = "all"  # n_train=None: every review, every sentence …
        elif isinstance(v, (list, tuple)) and len(v) > 6:
            v = f"{len(v)} values, {v[0]!r} … {v[-1]!r}"
        return f"{k} = {v}"

    if not varying:
        return f"This page shows the `{profile}` run; its settings are the same under every profile."
    mine = ", ".join(show(k, per_profile[profile][k]) for k in varying)
    if profile == "full":
        return f"This page shows the `full` run (the reports' settings): {mine}."
    diff = [k for k in varying if repr(per_profile[profile][k]) != repr(per_profile["full"][k])]
    theirs = ", ".join(show(k, per_profile["full"][k]) for k in diff)
    return (f"This page shows the `{profile}` run: {mine}. "
            + (f"Under `full` (the reports' settings): {theirs}." if diff else ""))


def _say_settings(profile: str, per_profile: dict) -> None:
    """Show :func:`settings_sentence` as the cell's output when running in a notebook."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    if get_ipython() is None:
        return
    display(Markdown(settings_sentence(profile, per_profile)))
