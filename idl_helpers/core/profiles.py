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

from idl_helpers.core.tables import readable_header

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


#: how many departures from ``full`` the sentence names; the folded table has them all
SAID = 4
#: a setting whose name starts or ends so counts things: ``None`` means "all" of them (else "off")
COUNT_PREFIX, COUNT_SUFFIXES = "n_", ("_sentences", "_chars", "_reviews")


def show_value(key: str, v: Any) -> str:
    """A setting's value as a reader wants it: ``None`` as "all" (a count) or "off", thousands
    separated, a long grid shortened, a per-case dict as ``tanh 3, relu 3``."""
    if v is None:
        return "all" if key.startswith(COUNT_PREFIX) or key.endswith(COUNT_SUFFIXES) else "off"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {show_value(key, x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        if not v:
            return "none"
        if len(v) > 6:
            return f"{len(v)} values, {show_value(key, v[0])} … {show_value(key, v[-1])}"
        return ", ".join(show_value(key, x) for x in v)
    return str(v)


def _varying(per_profile: dict[str, dict[str, Any]]) -> list[str]:
    first = per_profile[PROFILES[0]]
    return [k for k in first if len({repr(per_profile[p][k]) for p in PROFILES}) > 1]


def settings_sentence(profile: str, per_profile: dict[str, dict[str, Any]]) -> str:
    """One short sentence: which run this page shows and, for a smaller profile, where it departs
    from the reports' own settings (``full``)."""
    varying = _varying(per_profile)
    if not varying:
        return f"This page shows the `{profile}` run; its settings are the same under every profile."
    if profile == "full":
        return "This page shows the `full` run (the reports' settings)."
    diff = [k for k in varying if repr(per_profile[profile][k]) != repr(per_profile["full"][k])]
    said = "; ".join(f"{readable_header(k)} {show_value(k, per_profile[profile][k])} "
                     f"(full: {show_value(k, per_profile['full'][k])})"
                     for k in diff[:SAID])
    more = f"; and {len(diff) - SAID} more (the table below)" if len(diff) > SAID else ""
    return f"This page shows the `{profile}` run, smaller than the reports' settings (`full`): {said}{more}."


def settings_table(per_profile: dict[str, dict[str, Any]]) -> str:
    """The settings that depend on the profile, one row each, as a Markdown table."""
    rows = ["| setting | " + " | ".join(PROFILES) + " |", "|---|" + "---|" * len(PROFILES)]
    rows += [f"| {readable_header(k)} | " + " | ".join(show_value(k, per_profile[p][k]) for p in PROFILES) + " |"
             for k in _varying(per_profile)]
    return "\n".join(rows)


def _say_settings(profile: str, per_profile: dict) -> None:
    """Show :func:`settings_sentence` as the cell's output when running in a notebook."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    if get_ipython() is None:
        return
    text = settings_sentence(profile, per_profile)
    if _varying(per_profile):
        text += ("\n\n<details><summary>Every setting that depends on the profile</summary>\n\n"
                 + settings_table(per_profile) + "\n\n</details>")
    display(Markdown(text))
