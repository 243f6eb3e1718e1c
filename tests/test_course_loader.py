"""The ``course`` data variant (idl_helpers.data.course_imdb): every rule of the course's loader
(damebrown/IDL_ex2 loader.py) and of Keras' Tokenizer / pad_sequences, pinned on a hand-made corpus,
plus one check on the real mirror."""

from __future__ import annotations

import numpy as np
import pytest

from idl_helpers.data import course_imdb as ci
from idl_helpers.data.glove import GloVe


# ----------------------------------------------------------------------------- cleaning

def test_clean_lowercases_and_removes_html_tags_without_a_space():
    # the tag is replaced by nothing: the words either side of it join
    assert ci.course_clean("GREAT<br />Movie") == "greatmovie"
    assert ci.course_clean("<i>Fine</i> film") == "fine film"


def test_clean_turns_digits_and_punctuation_into_spaces():
    assert ci.course_clean("wow!! 10/10,best-ever") == "wow best ever"


def test_clean_drops_single_letters_like_the_course_regex():
    # "don't" -> "don t" -> the lone t goes; the first letter of the text stays (no space before it)
    assert ci.course_clean("I don't like it") == "i don like it"
    # consecutive single letters: the regex consumes the space the next one needs, so every other survives
    assert ci.course_clean("x a b c y") == "x b y"
    assert ci.course_clean("plan  B") == "plan b"  # a final letter has no space after it: it stays


def test_keras_words_uses_default_filters_and_split_on_space():
    assert ci.keras_words("Hello, World!  it's\tfine") == ["hello", "world", "it's", "fine"]


# ----------------------------------------------------------------------------- tokenizer

CORPUS = ["zeta alpha beta", "beta gamma zeta alpha", "beta delta"]
# counts: beta 3; zeta 2, alpha 2 (zeta seen first); gamma 1, delta 1 (gamma seen first)


def test_ids_by_count_then_first_occurrence():
    tok = ci.KerasTokenizer(num_words=None).fit_on_texts(CORPUS)
    assert tok.word_index == {"beta": 1, "zeta": 2, "alpha": 3, "gamma": 4, "delta": 5}


def test_vocabulary_cut_keeps_ids_below_num_words_and_drops_the_rest():
    tok = ci.KerasTokenizer(num_words=4).fit_on_texts(CORPUS)
    # ids 1..3 kept; gamma (id 4 = num_words) and delta (5) are dropped, not replaced
    assert tok.texts_to_sequences(["gamma zeta delta beta alpha"]) == [[2, 1, 3]]
    assert tok.vocabulary() == ["<pad>", "beta", "zeta", "alpha"]


def test_words_never_seen_are_dropped():
    tok = ci.KerasTokenizer(num_words=10).fit_on_texts(CORPUS)
    assert tok.texts_to_sequences(["omega zeta, unknown ALPHA"]) == [[2, 3]]


# ----------------------------------------------------------------------------- window

def test_pre_truncation_keeps_the_last_words():
    out = ci.pad_sequences([[1, 2, 3, 4, 5, 6, 7]], maxlen=5)
    assert out.tolist() == [[3, 4, 5, 6, 7]]


def test_post_padding_with_zeros():
    out = ci.pad_sequences([[7, 8], [], [1, 2, 3, 4, 5]], maxlen=5)
    assert out.tolist() == [[7, 8, 0, 0, 0], [0, 0, 0, 0, 0], [1, 2, 3, 4, 5]]
    assert out.dtype == np.int32


# ----------------------------------------------------------------------------- embeddings

def _fake_glove():
    words = ["alpha", "beta", "zeta"]
    vectors = np.array([[1, 1], [2, 2], [3, 3]], dtype=np.float32)
    return GloVe(words, vectors, source="test")


def test_embedding_rows_follow_ids_with_zeros_for_padding_and_unknown_words():
    vocab = ["<pad>", "beta", "zeta", "nosuchword", "alpha"]
    emb, oov = ci.glove_matrix(vocab, _fake_glove())
    assert emb.tolist() == [[0, 0], [2, 2], [3, 3], [0, 0], [1, 1]]
    assert oov.n_oov == 1 and oov.words == ["nosuchword"]


def test_padding_row_is_zero_even_if_glove_knows_the_pad_token():
    g = GloVe(["<pad>", "beta"], np.array([[9, 9], [2, 2]], np.float32), source="test")
    emb, _ = ci.glove_matrix(["<pad>", "beta"], g)
    assert emb.tolist() == [[0, 0], [2, 2]]


# ----------------------------------------------------------------------------- split and shuffle

def test_split_sizes_500_and_49500_disjoint_and_complete():
    test, train = ci.split_rows(50_000, seed=3)
    assert len(test) == 500 and len(train) == 49_500
    assert np.array_equal(np.sort(np.concatenate([test, train])), np.arange(50_000))


def test_shuffle_depends_on_the_seed_only():
    np.random.seed(1)
    a = ci.split_rows(50_000, seed=7)[0]
    np.random.seed(2)
    np.random.rand(5)
    b = ci.split_rows(50_000, seed=7)[0]
    c = ci.split_rows(50_000, seed=8)[0]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def _tiny_build(seed=0, own=()):
    texts = [f"w{i} common " + ("long " * i) + ("rare" if i == 3 else "") for i in range(10)]
    cleaned = [ci.course_clean(t) for t in texts]
    labels = np.arange(10) % 2
    emb_calls = []

    def embed(vocab):
        emb_calls.append(list(vocab))
        return np.zeros((len(vocab), 2), np.float32), None

    out = ci.build(cleaned, labels, seed=seed, embed=embed, n_test=3, num_words=6, max_len=5,
                   own_test_texts=own)
    return cleaned, labels, out, emb_calls


def test_build_splits_after_the_shuffle_and_fits_on_all_texts():
    cleaned, labels, (train, test, tok, vocab, _, _), calls = _tiny_build(seed=5)
    test_rows, train_rows = ci.split_rows(10, 5, 3)
    assert np.array_equal(test.rows, test_rows) and np.array_equal(train.rows, train_rows)
    assert np.array_equal(test.labels, labels[test_rows]) and np.array_equal(train.labels, labels[train_rows])
    assert test.texts == [cleaned[i] for i in test_rows]
    # the tokenizer saw every text, test texts included (the rare word of review 3 has an id)
    assert "rare" in tok.word_index and sum(tok.word_counts.values()) == sum(len(t.split()) for t in cleaned)
    assert train.ids.shape == (7, 5) and test.ids.shape == (3, 5) and calls == [vocab]
    assert int(max(train.ids.max(), test.ids.max())) < 6


def test_build_encodes_the_last_kept_words_of_each_review():
    cleaned, _, (train, test, tok, _, _, _), _ = _tiny_build(seed=1)
    for split in (train, test):
        for text, row in zip(split.texts, split.ids):
            kept = [tok.word_index[w] for w in text.split() if tok.word_index[w] < 6]
            want = kept[-5:] + [0] * (5 - len(kept[-5:]))
            assert row.tolist() == want


def test_build_replaces_the_first_test_texts_but_not_their_labels():
    _, labels, (train, test, _, _, _, _), _ = _tiny_build(seed=2, own=("common long", "long"))
    assert test.texts[:2] == ["common long", "long"]
    assert np.array_equal(test.labels, labels[ci.split_rows(10, 2, 3)[0]])


def test_duplicate_count_looks_only_for_test_texts_in_the_training_part():
    texts = ["a", "b", "c", "a", "d", "e", "b", "f", "g", "h"]
    for seed in range(5):
        test, train = ci.split_rows(len(texts), seed, 3)
        want = sum(texts[i] in {texts[j] for j in train} for i in test)
        assert ci.count_duplicates(texts, seed, n_test=3) == want
    # a table with no repeated text has no duplicates (a test review is never compared with itself)
    assert ci.count_duplicates([str(i) for i in range(20)], 0, n_test=5) == 0


# ----------------------------------------------------------------------------- the real mirror

@pytest.mark.heavy  # the 50,000 reviews of the mirror through the course pipeline, ≈ 25 s: `make test-heavy`
def test_course_variant_on_the_mirror(mirror):
    d = ci.prepare_course_imdb(seed=0)
    assert d.test.ids.shape == (500, 100) and d.train.ids.shape == (49_500, 100)
    assert len(d.test.labels) == 500 and len(d.train.labels) == 49_500
    assert 0.40 < d.test.labels.mean() < 0.60 and 0.49 < d.train.labels.mean() < 0.51
    ids = np.concatenate([d.train.ids, d.test.ids])
    assert ids.min() == 0 and ids.max() == 4999  # every id < 5000, the top id reached
    assert len(d.vocab) == 5000 and d.embeddings.shape == (5000, 50)
    assert not d.embeddings[0].any()
    # ids are post-padded: once a row hits 0 it stays 0
    assert not ((ids[:, 1:] != 0) & (ids[:, :-1] == 0)).any()
    assert set(np.concatenate([d.train.rows, d.test.rows]).tolist()) == set(range(50_000))
    assert "seed=0" in d.data_variant and "without a seed" in d.data_variant
