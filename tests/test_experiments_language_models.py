"""The II.6 checks and the small helpers that pages 03/05/10 call from idl_helpers.experiments.language_models."""

import numpy as np

from idl_helpers.experiments.language_models import bigram_direction, bigram_lm, char_gru
from idl_helpers.core.environment import settings


def test_directions_agree_only_with_the_end_symbol():
    sents = [["<s>", "a", "b", "</s>"], ["<s>", "b", "b", "a", "</s>"], ["<s>", "a", "</s>"]]
    lr, rl = bigram_direction.direction_logprobs(sents)
    assert np.allclose(lr, rl, atol=1e-12)
    lr_no, rl_no = bigram_direction.direction_logprobs([s[:-1] for s in sents])
    assert np.abs(lr_no - rl_no).max() > 1e-3


def test_telescoping_and_symbolic_corpus():
    assert bigram_direction.telescoping(2)
    assert all(bigram_direction.symbolic_corpus(2).values())


def test_words_keep_inner_apostrophes():
    assert char_gru.words("Know't, WE'LL go!") == ["know't", "we'll", "go"]


def test_profiles_are_complete():
    for table in (bigram_lm.BIGRAM_PROFILES, bigram_lm.ATTRIBUTION_GRID, char_gru.CHAR_PROFILES,
                  bigram_direction.DIRECTION_PROFILES):
        for profile in ("smoke", "quick", "full"):
            settings(profile, **table)
