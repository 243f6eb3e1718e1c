"""Tables that read like answers: one formatting helper for every table the book shows.

``show(df)`` returns a display object (HTML for the book, plain text elsewhere) in which

* there is no index column (a meaningful index becomes an ordinary first column);
* a missing value is "—", never ``nan``/``NaN``/``None``;
* numbers are rounded for reading: counts with thousands separators (``73,760``), values
  below 1 with 3 decimals (``0.844``), small ones with 3 significant digits (``9.54e-07``),
  one number of decimals per column so that the digits line up;
* context columns that are the same on every row (data variant, device, profile) are
  stated once in a line above the table and dropped;
* nothing is truncated ("…"): long notes are shown whole.

``install()`` (called by :func:`idl_helpers.core.results.setup`) makes every DataFrame a
notebook displays go through ``show``, so a page's tables are clean without each cell
asking for it, and sets pandas' display options (no column-width or column-count limits,
"—" for missing values in Stylers).
"""

from __future__ import annotations

import hashlib
import html
import math
import numbers
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

MISSING = "—"
#: columns that describe the run rather than the row: stated above the table when constant
CONTEXT_COLUMNS = ("data", "data variant", "data_variant", "device", "profile")
#: strings that mean "no value" when they arrive as text (results JSON stores NaN as "nan")
_MISSING_TEXT = {"nan", "+nan", "-nan", "NaN", "+NaN", "None", "NaT", "<NA>"}
#: integer columns shown without thousands separators (identifiers, not counts)
_PLAIN_INT = re.compile(r"\b(id|ids|seed|seeds|year|rating)\b", re.I)
#: columns whose numbers carry a sign (differences)
_SIGNED = re.compile(r"(difference|\bdiff\b|change|gain|Δ)", re.I)


def _is_missing(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, str):
        return v.strip() in _MISSING_TEXT
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        try:
            return math.isnan(float(v))
        except (TypeError, ValueError):
            return False
    return False


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool,)) and not _is_bool(v)


def _is_bool(v) -> bool:
    return isinstance(v, (bool, np.bool_))


def _needed_decimals(v: float, cap: int = 3) -> int:
    """The fewest decimals (≤ cap) that show ``v`` exactly, else ``cap``."""
    for k in range(cap + 1):
        if abs(round(v, k) - v) <= 1e-9 * max(1.0, abs(v)):
            return k
    return cap


def _cap(v: float) -> int:
    """Most decimals worth showing for a number of this size."""
    a = abs(v)
    return 3 if a < 10 else 2 if a < 100 else 1


def column_decimals(values: Iterable) -> int:
    """Decimals for the ordinary-sized (0.1 ≤ |v| < 1000) non-integral numbers of a column."""
    d = 0
    for v in values:
        if _is_number(v) and not _is_missing(v) and math.isfinite(float(v)):
            f = float(v)
            if 0.1 <= abs(f) < 1000 and not float(f).is_integer():
                d = max(d, min(_needed_decimals(f), _cap(f)))
    return d


def fmt(v, *, decimals: int | None = None, signed: bool = False, plain_int: bool = False) -> str:
    """One value as the book shows it (see the module docstring).

    ``decimals`` is the column's number of decimals for ordinary-sized numbers (default:
    what this value needs, at most 3); ``signed`` puts "+" before positive numbers.
    """
    if _is_missing(v):
        return MISSING
    if _is_bool(v):
        return "yes" if v else "no"
    if isinstance(v, str):
        return v
    if isinstance(v, numbers.Integral):
        s = f"{int(v)}" if plain_int else f"{int(v):,}"
        return ("+" + s) if signed and int(v) > 0 else s
    if isinstance(v, numbers.Real):
        f = float(v)
        if math.isinf(f):
            s = "∞" if f > 0 else "−∞"
            return ("+" + s) if signed and f > 0 else s
        sign = "+" if signed and f > 0 else ""
        a = abs(f)
        if f == 0:
            return "0"
        if a >= 1e6 and not f.is_integer():
            return sign + f"{f:.3g}"    # a measured magnitude (gradient norm), not a count
        if a >= 1000:
            return sign + (f"{f:.0f}" if plain_int else f"{f:,.0f}")
        if a < 0.1:
            return sign + f"{f:.3g}"
        if decimals is None:
            decimals = 0 if f.is_integer() else min(_needed_decimals(f), _cap(f))
        if f.is_integer() and decimals == 0:
            return sign + f"{int(f)}"
        return sign + f"{f:.{min(decimals, _cap(f))}f}"
    if isinstance(v, Mapping):
        return ", ".join(f"{k}: {fmt(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    return str(v)


def format_column(values: Sequence, name: str = "") -> list[str]:
    """Every value of one column, with one number of decimals for the whole column."""
    values = list(values)
    d = column_decimals(values)
    signed = bool(_SIGNED.search(str(name)))
    plain = bool(_PLAIN_INT.search(str(name)))
    return [fmt(v, decimals=d, signed=signed, plain_int=plain) for v in values]


#: whole snake_case names a reader should see otherwise
_HEADERS = {"roc_auc": "ROC AUC", "f1": "F1", "ratio_vs_nn_gru": "ratio to nn.GRU", "time_s": "time (s)",
            "n_train": "training examples", "n_test": "test examples", "n_seeds": "seeds",
            "n_holdout": "held-out examples", "n_course_train": "course training examples",
            "n_report": "report-size test set"}
#: the words inside snake_case names
_WORDS = {"acc": "accuracy", "val": "validation", "ms": "(ms)", "s": "(s)", "auc": "AUC", "roc": "ROC",
          "f1": "F1", "ppl": "perplexity", "lr": "learning rate", "std": "sd", "n": "number of"}
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")


def readable_header(name: str) -> str:
    """A column name as a reader wants to see it: ``test_acc`` → "test accuracy", ``median_ms`` →
    "median (ms)", ``roc_auc`` → "ROC AUC". Names that are not snake_case are kept as they are."""
    if name in _HEADERS:
        return _HEADERS[name]
    if not _SNAKE.match(name):
        return name
    return " ".join(_WORDS.get(w, w) for w in name.split("_"))


def _flat_name(c) -> str:
    if isinstance(c, tuple):
        return " · ".join(str(x) for x in c if str(x) != "")
    return str(c)


def prepare(df: pd.DataFrame | pd.Series, *, context: Sequence[str] = CONTEXT_COLUMNS,
            index: bool | None = None, index_name: str = "") -> tuple[pd.DataFrame, dict[str, str]]:
    """The table as strings, without an index, and the constant context columns taken out.

    ``index``: keep a meaningful index as the first column(s) (default: when it is not the
    plain 0, 1, 2 … range). Returns ``(table of strings, {context column: its one value})``.
    """
    if isinstance(df, pd.Series):
        df = df.to_frame()
    df = df.copy()
    plain_range = isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1
    if index is None:
        index = not plain_range
    if index:
        names = [n if n is not None else (index_name if df.index.nlevels == 1 else f"level {i}")
                 for i, n in enumerate(df.index.names)]
        df.index = df.index.set_names(names)
        df.columns = [_flat_name(c) for c in df.columns]
        df = df.reset_index()
    df.columns = [_flat_name(c) for c in df.columns]
    # duplicated names would break the column-wise formatting below
    seen: dict[str, int] = {}
    cols = []
    for c in df.columns:
        seen[c] = seen.get(c, 0) + 1
        cols.append(c if seen[c] == 1 else f"{c} ({seen[c]})")
    df.columns = cols
    out = pd.DataFrame({c: format_column(df[c].tolist(), c) for c in df.columns}, dtype=object)
    stated: dict[str, str] = {}
    wanted = {c.lower() for c in context}
    if len(out):
        for c in list(out.columns):
            if c.lower() in wanted and out[c].nunique(dropna=False) == 1:
                value = out[c].iloc[0]
                if value not in (MISSING, ""):
                    stated[c] = value
                out = out.drop(columns=c)
    return out.reset_index(drop=True), stated


@dataclass
class Table:
    """A formatted table: renders as HTML in the book and as aligned text elsewhere."""

    frame: pd.DataFrame
    stated: dict[str, str]
    html: str
    caption: str = ""

    def _repr_html_(self) -> str:
        return self.html

    def context_line(self) -> str:
        return " · ".join(f"{readable_header(k)}: {v}" for k, v in self.stated.items())

    def __repr__(self) -> str:
        parts = [p for p in (self.caption, self.context_line()) if p]
        body = self.frame.to_string(index=False) if len(self.frame.columns) else "(no columns)"
        return "\n".join(parts + [body])


def _uuid(frame: pd.DataFrame) -> str:
    return hashlib.sha1(frame.to_json().encode()).hexdigest()[:8]


def show(df: pd.DataFrame | pd.Series, *, caption: str = "", context: Sequence[str] = CONTEXT_COLUMNS,
         index: bool | None = None, index_name: str = "",
         colours: Mapping[str, Callable[[str], str]] | None = None,
         html_columns: Sequence[str] = (), note: str = "") -> Table:
    """A table ready to display (end a cell with it, or ``display()`` it).

    ``colours`` maps a column to a function of the shown text returning CSS (e.g.
    ``"color: #1a7f37"``); ``html_columns`` are columns whose text is HTML (links) and is
    not escaped; ``note`` is a line under the table.
    """
    frame, stated = prepare(df, context=context, index=index, index_name=index_name)
    shown = {c: readable_header(c) for c in frame.columns}
    if len(set(shown.values())) == len(shown):              # never merge two columns into one name
        frame = frame.rename(columns=shown)
        colours = {shown.get(c, c): fn for c, fn in (colours or {}).items()}
        html_columns = [shown.get(c, c) for c in html_columns]
    head = []
    if caption:
        head.append(f'<p class="idl-table-caption"><strong>{html.escape(caption)}</strong></p>')
    line = " · ".join(f"{html.escape(readable_header(k))}: {html.escape(v)}" for k, v in stated.items())
    if line:
        head.append(f'<p class="idl-table-context"><em>{line}</em></p>')
    if len(frame.columns) == 0:
        body = "<p>(empty table)</p>"
    else:
        sty = frame.style.hide(axis="index")
        sty.set_uuid(_uuid(frame))
        plain = [c for c in frame.columns if c not in set(html_columns)]
        if plain:
            sty = sty.format(escape="html", subset=plain, na_rep=MISSING)
        for col, fn in (colours or {}).items():
            if col in frame.columns:
                sty = sty.map(fn, subset=[col])
        sty = sty.set_table_attributes('class="dataframe idl-table"')
        body = sty.to_html()
    tail = [f'<p class="idl-table-note">{html.escape(note)}</p>'] if note else []
    table = Table(frame, stated, "\n".join(head + [body] + tail), caption)
    return table


def details(summary: str, *tables: Table | str, open: bool = False) -> "HTMLBlock":
    """Tables folded into a ``<details>`` block (click the summary to open)."""
    inner = "\n".join(t.html if isinstance(t, Table) else t for t in tables)
    return HTMLBlock(f"<details{' open' if open else ''}><summary>{html.escape(summary)}</summary>\n"
                     f"{inner}\n</details>", text=summary)


@dataclass
class HTMLBlock:
    """Raw HTML for the book, a short text elsewhere."""

    html: str
    text: str = ""

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text or re.sub(r"<[^>]+>", "", self.html)


class Text(str):
    """A string whose text/plain form has no quotes (for ``myst_nb.glue`` into prose)."""

    def __repr__(self) -> str:
        return str(self)


def glue_key(question: str, metric: str) -> str:
    """The glue name of a record: ``"I.P2 test accuracy | best mlp"`` → ``"I.P2-test-accuracy-best-mlp"``.

    Letters, digits, dots and ``=`` are kept, every other run of characters becomes one ``-``
    (no ``:``, which the glue roles read as a format specification)."""
    return re.sub(r"[^0-9A-Za-z.=]+", "-", f"{question} {metric}").strip("-")


def configure_pandas() -> None:
    """No truncated columns or cells; "—" for missing values in Stylers."""
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.width", 250)
    pd.set_option("styler.format.na_rep", MISSING)


def install() -> None:
    """Show every DataFrame of this IPython session through :func:`show` (and configure pandas)."""
    configure_pandas()
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    ip = get_ipython()
    if ip is None:
        return
    formatters = ip.display_formatter.formatters
    formatters["text/html"].for_type(pd.DataFrame, lambda df: show(df).html)
    formatters["text/plain"].for_type(pd.DataFrame, lambda df, p, cycle: p.text(repr(show(df))))


__all__ = ["CONTEXT_COLUMNS", "HTMLBlock", "MISSING", "Table", "Text", "column_decimals", "configure_pandas",
           "details", "fmt", "format_column", "glue_key", "install", "prepare", "show"]
