"""The table formatter every page uses: no index, no NaN, no truncation, sensible rounding."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from idl_helpers.core import tables as T


@pytest.mark.parametrize("value, shown", [
    (9.536743e-07, "9.54e-07"),      # small: 3 significant digits, not 9.536743e-07
    (1.5e-31, "1.5e-31"),
    (0.0417, "0.0417"),
    (0.78932, "0.789"),              # accuracies: 3 decimals
    (0.15, "0.15"),                  # short values are not padded
    (73760, "73,760"),               # counts: thousands separators
    (73760.0, "73,760"),
    (np.int64(12673), "12,673"),
    (112.862, "112.9"),
    (25539430.7, "2.55e+07"),        # a large measured value, not a count
    (2_000_000.0, "2,000,000"),
    (1.69, "1.69"),
    (0.0, "0"),
    (float("nan"), "—"), (None, "—"), ("nan", "—"), ("+nan", "—"), (pd.NA, "—"),
    (float("inf"), "∞"),
    (True, "yes"), (np.bool_(False), "no"),
    ("text stays", "text stays"),
])
def test_fmt(value, shown):
    assert T.fmt(value) == shown


def test_signed_and_identifier_columns():
    assert T.format_column([0.0123, -0.25, 2.0], "difference") == ["+0.0123", "-0.25", "+2.00"]
    assert T.format_column([12345, 7], "review id") == ["12345", "7"]
    assert T.format_column([0, 1], "seed") == ["0", "1"]


def test_one_number_of_decimals_per_column():
    assert T.format_column([0.7893, 1.0, 0.5], "accuracy") == ["0.789", "1.000", "0.500"]
    assert T.format_column([0.15, 0.3, 0.1], "dropout") == ["0.15", "0.30", "0.10"]
    assert T.format_column([64, 128], "hidden") == ["64", "128"]


def test_show_drops_index_constant_context_and_never_truncates():
    long_note = "a note that is much longer than the default fifty-character column width, kept whole"
    df = pd.DataFrame({"act": ["none", "tanh"], "accuracy": [0.7893, np.nan], "note": [long_note, None],
                       "device": ["cpu", "cpu"], "profile": ["quick", "quick"], "data": ["IMDB", "PTB"]},
                      index=[5, 9])
    t = T.show(df, index=False)
    assert list(t.frame.columns) == ["act", "accuracy", "note", "data"]   # constant device/profile dropped …
    assert t.stated == {"device": "cpu", "profile": "quick"}               # … and stated once above
    assert t.frame["accuracy"].tolist() == ["0.789", "—"]
    html = t._repr_html_()
    assert "device: cpu · profile: quick" in html and long_note in html
    cells = re.findall(r"<td[^>]*>\s*([^<]*?)\s*</td>", html)
    assert not [c for c in cells if re.search(r"\bnan\b|NaN|…|\.\.\.$", c)], cells
    assert "<th" in html and "row_heading" not in html                  # no index column
    assert long_note in repr(t)


def test_meaningful_index_becomes_a_column_and_multiindex_columns_flatten():
    df = pd.DataFrame({"mean": [0.7, 0.6], "std": [0.01, np.nan]}, index=pd.Index([0.0, 0.5], name="p"))
    t = T.show(df)
    assert list(t.frame.columns) == ["p", "mean", "std"] and t.frame["std"].tolist() == ["0.01", "—"]
    g = pd.DataFrame({"p": [0, 0, 1, 1], "acc": [0.7, 0.72, 0.6, 0.61]}).groupby("p").agg(["mean", "std"])
    assert list(T.show(g).frame.columns) == ["p", "acc · mean", "acc · std"]
    unnamed = pd.DataFrame({"a": {"x": 1.5, "y": np.nan}}).T
    assert list(T.show(unnamed).frame.columns) == ["", "x", "y"]


def test_colours_and_html_columns():
    df = pd.DataFrame({"verdict": ["verified", "below"], "page": ['<a href="p.html">p</a>', "<b>x</b>"]})
    html = T.show(df, colours={"verdict": lambda v: "color: red" if v == "below" else ""},
                  html_columns=("page",)).html
    assert '<a href="p.html">p</a>' in html and "color: red" in html
    html_escaped = T.show(df).html
    assert "&lt;a href" in html_escaped


def test_glue_key_has_no_colon():
    assert T.glue_key("I.P2", "test accuracy | best mlp") == "I.P2-test-accuracy-best-mlp"
    assert ":" not in T.glue_key("I.T1.3", "first-layer gradient norm at depth 50: sigmoid")
    assert repr(T.Text("0.789")) == "0.789"


def test_snake_case_headers_are_shown_as_words():
    import pandas as pd
    from idl_helpers.core import tables as T

    df = pd.DataFrame({"act": ["relu"], "val_acc": [0.71], "roc_auc": [0.8], "median_ms": [22.5], "dev perplexity": [143.9]})
    t = T.show(df, colours={"val_acc": lambda s: "color: red"})
    assert list(t.frame.columns) == ["act", "validation accuracy", "ROC AUC", "median (ms)", "dev perplexity"]
    assert "color: red" in t.html and "val_acc" not in t.html
    # two names that would read the same are left as they are rather than merged
    both = T.show(pd.DataFrame({"val_acc": [1], "validation_accuracy": [2]}))
    assert list(both.frame.columns) == ["val_acc", "validation_accuracy"]
