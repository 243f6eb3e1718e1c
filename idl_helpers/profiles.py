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
    return SimpleNamespace(profile=profile, **per_profile[profile])
