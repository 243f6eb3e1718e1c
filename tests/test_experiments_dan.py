"""Pure helpers of idl_helpers.experiments.dan (the training itself is pinned by tests/test_dan_stacked.py)."""

import pandas as pd

from idl_helpers.experiments import dan
from idl_helpers.core.environment import settings


def test_choice_optimism_reports_what_choosing_on_test_adds():
    frame = pd.DataFrame({"p": [0.0, 0.0, 0.5, 0.5], "validation accuracy": [0.8, 0.8, 0.7, 0.7],
                          "test accuracy": [0.70, 0.72, 0.75, 0.75]})
    on_val, on_test, gain = dan.choice_optimism(frame, "p")
    assert (on_val, on_test) == (0.0, 0.5)
    assert abs(gain - 0.04) < 1e-12


def test_wobble_is_mean_absolute_change():
    class H:
        def series(self, key):
            import numpy as np
            return np.array([0.5, 0.7, 0.6])
    assert abs(dan.wobble(H()) - 0.15) < 1e-12


def test_profiles_are_complete():
    for table in (dan.PROFILES_5ADE, dan.PROFILES_5BC):
        for profile in ("smoke", "quick", "full"):
            settings(profile, **table)
