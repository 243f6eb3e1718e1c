"""The data layer against the real offline mirror: the counts a reader can check."""

from __future__ import annotations

import time

import numpy as np
import pytest

from idl_helpers.data import DataNotFoundError, glove, imdb, ptb, shakespeare


def test_imdb_counts_and_schema(mirror):
    df = imdb.load_imdb(progress=False)
    assert list(df.columns) == ["split", "id", "rating", "label", "text"]
    counts = df.groupby(["split", "label"]).size().to_dict()
    assert counts == {("test", 0): 12_500, ("test", 1): 12_500, ("train", 0): 12_500, ("train", 1): 12_500}
    assert len(imdb.load_imdb("train")) == len(imdb.load_imdb("test")) == 25_000
    # ratings follow the data set's definition: negative ≤ 4, positive ≥ 7
    assert df.loc[df.label == 0, "rating"].between(1, 4).all()
    assert df.loc[df.label == 1, "rating"].between(7, 10).all()
    assert df["text"].str.len().min() > 0


def test_imdb_cached_load_is_fast(mirror):
    imdb.load_imdb(progress=False)  # builds the cache if needed
    t0 = time.perf_counter()
    imdb.load_imdb(progress=False)
    assert time.perf_counter() - t0 < 2.0


def test_imdb_review_is_the_file_text(mirror):
    """A review read through the cache is byte-for-byte the archive member."""
    import tarfile

    df = imdb.load_imdb("train", progress=False)
    _, path, _ = imdb.source()
    with tarfile.open(path, "r:gz") as tf:
        member = next(m for m in tf if m.isfile() and "/train/pos/" in m.name)
        text = tf.extractfile(member).read().decode("utf-8")
    rid, rating = member.name.rsplit("/", 1)[1][:-4].split("_")
    row = df[(df.id == int(rid)) & (df.label == 1)].iloc[0]
    assert row.rating == int(rating) and row.text == text


def test_glove_50d_package():
    g = glove.load_glove(50)
    assert len(g) == 400_000 and g.dim == 50
    assert g.words[0] == "the"
    np.testing.assert_allclose(g.vector("the")[:3], [0.418, 0.24968, -0.41242], rtol=1e-6)
    # similar words are closer than unrelated ones
    def cos(a, b):
        va, vb = g.vector(a), g.vector(b)
        return float(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb))
    assert cos("good", "great") > cos("good", "banana")


def test_glove_embedding_matrix_counts_oov():
    g = glove.load_glove(50)
    vocab = ["the", "qqqzzzxx", "movie", "zzqqxxyy"]
    m, report = g.embedding_matrix(vocab)
    assert m.shape == (4, 50) and m.dtype == np.float32
    assert report.n_oov == 2 and report.words == ["qqqzzzxx", "zzqqxxyy"] and report.rate == 0.5
    assert not m[1].any() and not m[3].any()
    np.testing.assert_array_equal(m[2], g.vector("movie"))
    rnd, rep2 = g.embedding_matrix(vocab, oov="random", seed=1)
    assert rnd[1].any() and rep2.fill == "random"
    np.testing.assert_array_equal(rnd[0], m[0])
    mean, _ = g.embedding_matrix(vocab, oov="mean")
    np.testing.assert_allclose(mean[1], np.asarray(g.vectors).mean(0), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError):
        g.embedding_matrix(vocab, oov="nope")


@pytest.mark.parametrize("dim", [100, 300])
def test_glove_text_parser_on_real_samples(mirror, dim):
    g = glove.read_glove_file(mirror / "glove-samples" / f"glove.6B.{dim}d.sample.txt.gz")
    assert len(g) == 100 and g.dim == dim
    assert list(g.words[:3]) == ["the", ",", "."]
    assert np.isfinite(np.asarray(g.vectors)).all()


def test_glove_other_dims_need_the_zip(isolated_data):
    glove.load_glove.cache_clear()
    with pytest.raises(glove.DataNotFoundError, match="glove.6B.zip"):
        glove.load_glove(100)
    with pytest.raises(ValueError, match="dimensions"):
        glove.load_glove(64)


def test_ptb_mikolov_counts(mirror):
    train = ptb.load_mikolov("train")
    assert len(train) == 42_068
    assert sum(map(len, train)) == 887_521
    valid = ptb.load_mikolov("valid")
    assert (len(valid), sum(map(len, valid))) == (3_370, 70_390)
    test = ptb.load_mikolov("test")
    assert (len(test), sum(map(len, test))) == (3_761, 78_669)
    assert len({w for s in train for w in s}) == 9_999  # 10k vocabulary without the end-of-sentence mark


def test_course_rules():
    ws = {"the", "dg", "DGDG", "DG.DG", "DGDGDGDG"}
    assert ptb.canonicalize_word("The", ws) == "the"
    assert ptb.canonicalize_word("42", ws) == "DGDG"
    assert ptb.canonicalize_word("3.5", ws) == "DG.DG"
    assert ptb.canonicalize_word("1,000", ws) == "DGDGDGDG"  # thousands separator dropped
    assert ptb.canonicalize_word("Zebra", ws) == "UUUNKKK"
    assert ptb.canonicalize_word("4th", ws) == "UUUNKKK"  # has a letter: digits kept, then unknown
    assert ptb.canonicalize_digits("4th") == "4th"
    assert ptb.pad(["a"]) == ["<s>", "a", "</s>"]


def test_course_dev_split_and_vocab(mirror):
    vocab = ptb.load_course_vocab()
    assert len(vocab) == 38_444
    assert list(vocab.word[:3]) == [",", "the", "."]
    assert {"UUUNKKK", "<s>", "</s>", "DG"} <= set(vocab.word)
    raw = ptb.read_tagged(mirror / "tau-nlp-hw2" / "ptb-dev.txt")
    assert raw[0][:3] == ["Consumers", "may", "want"]
    assert not any(w == "-DOCSTART-" for s in raw for w in s)
    dev = ptb.load_course("dev", vocab_size=2000)
    assert len(dev) == len(raw)
    top = set(vocab.word[:2000])
    assert all(s[0] == "<s>" and s[-1] == "</s>" for s in dev)
    assert all(w in top for s in dev for w in s)
    unk = sum(w == "UUUNKKK" for s in dev for w in s) / sum(len(s) - 2 for s in dev)
    assert 0.05 < unk < 0.5  # a 2,000-word vocabulary leaves a real share of unknowns
    with pytest.raises(DataNotFoundError, match="ptb-train.txt"):
        ptb.load_course("train")  # the course's training split is not in the mirror


def test_shakespeare(mirror):
    text = shakespeare.load_tiny_shakespeare()
    assert len(text) == 1_115_394
    assert text.startswith("First Citizen:")
    passages = shakespeare.load_passages()
    assert set(passages) == {"shakespeare", "wikipedia"}
    assert all(len(t) > 1000 for t in passages.values())
