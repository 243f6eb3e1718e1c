"""The answer box under each question page's title: computed from the results, never typed in."""

import json
import shutil
from pathlib import Path

import pytest

from idl_book import answer_box as A
from idl_helpers.core import reports

ROOT = Path(__file__).resolve().parents[1]


def test_every_question_is_answered_in_a_box_on_its_page():
    rows = A.rows_by_page(ROOT)
    boxed = {r["question"] for page in rows.values() for r in page}
    assert set(reports.questions()) <= boxed
    for stem, page in rows.items():
        assert any((ROOT / "notebooks").rglob(f"{stem}.ipynb")), stem
        html = A.box(page, A.WHY.get(stem, []))
        assert "nan" not in html.lower().replace("nanjing", ""), stem
        assert "verdict" in html


def _tree(tmp_path: Path, stem: str, edit) -> Path:
    """A copy of the book's results and sources with one results file edited."""
    for d in ("notebooks", "book/results"):
        shutil.copytree(ROOT / d, tmp_path / d)
    path = next((tmp_path / "book/results").glob(f"*/{stem}.json"))
    payload = json.loads(path.read_text())
    edit(payload["records"])
    path.write_text(json.dumps(payload))
    return tmp_path


def _headline(records, metric):
    return next(r for r in records if r["metric"] == metric)


def test_the_box_follows_the_recorded_numbers(tmp_path):
    """A planted result equal to the report's turns the GRU's verdict from "below" to a match."""
    report = reports.value("I.P1.b", "test accuracy | gru act=tanh")

    def plant(records):
        for r in records:
            if r["metric"] == "test accuracy | gru act=tanh":
                r["value"] = report
                r["extra"]["per_seed"] = [report - 0.001, report + 0.001]
                r["extra"]["std"] = float("nan")  # a spread that is not a number is left out, never "nan"

    rows = A.rows_by_page(_tree(tmp_path, "11_I_P1b_gru", plant))["11_I_P1b_gru"]
    head = next(r for r in rows if r["measure"] == "test accuracy | gru act=tanh")
    assert head["verdict"] == "matches within noise"
    assert head["difference"] == "+0"
    assert "nan" not in A.box(rows).lower()


def test_a_claim_shows_its_recorded_verdict(tmp_path):
    def flip(records):
        for r in records:
            if r["metric"].startswith("claim: "):
                r["value"] = "does not hold"

    rows = A.rows_by_page(_tree(tmp_path, "10_I_P1a_rnn", flip))["10_I_P1a_rnn"]
    claims = [r for r in rows if r["report"] == "claim"]
    assert claims and all(r["verdict"] == "does not hold" for r in claims)


def test_the_box_goes_under_the_title():
    body = '<section id="x"><h1>I.P1.b — a GRU<a class="headerlink" href="#x">#</a></h1><p>text</p>'
    out = A.insert_after_title(body, "<div>BOX</div>")
    assert out.index("</h1>") < out.index("BOX") < out.index("<p>text")


@pytest.mark.parametrize("shown, says_full_missing", [("quick", True), ("full", False)])
def test_the_box_says_which_profile_it_shows(shown, says_full_missing):
    row = {"question": "I.P3", "measure": "test accuracy", "report": "0.87", "ours": "0.79",
           "profile": shown, "verdict": "below", "difference": "-0.08"}
    html = A.box([row])
    assert f"<code>{shown}</code> run" in html
    assert ("have not been run for this page yet" in html) is says_full_missing


def test_a_trend_claim_shows_its_slope_and_interval():
    rows = A.rows_by_page(ROOT)["11_I_P1b_gru"]
    trend = next(r for r in rows if r["measure"].startswith("over-fitting"))
    assert trend["ours"] != "—" and "[" in trend["ours"]


# --- one vocabulary: the page's record, the box and the scorecard print the same word ---------------

def _recorded_word(text) -> str:
    s = str(text).strip().lower()
    return next((w for w in ("holds in part", "holds", "does not hold", "inconclusive", "not tested") if s.startswith(w)),
                "shown")


@pytest.mark.parametrize("profile", ["full", "quick"])
def test_every_claim_shows_its_recorded_word_in_box_and_scorecard(profile):
    """Every claim or trend record of the committed results: the answer box's word equals the
    scorecard's word equals the recorded verdict (II.5c/II.5d were recorded "inconclusive" and shown
    as "shown")."""
    from idl_helpers.core import results
    from idl_book import scorecard

    recs = results.load(root=ROOT / "book" / "results")
    recs = recs[recs["profile"] == profile]
    boxed = {(r["question"], r["measure"]): r["verdict"] for page in A.rows_by_page(ROOT).values() for r in page}
    card = scorecard.summary(ROOT / "book" / "results").set_index("question")
    reg = reports.table()
    checked = 0
    for _, r in recs.iterrows():
        m = str(r["metric"])
        trend = reg[(reg["question"] == r["question"]) & (reg["metric"] == m) & (reg["kind"] == "trend")]
        if not (m.startswith("claim: ") or len(trend)):
            continue
        word = _recorded_word(r["value"])
        assert word != "shown", (m, r["value"])              # every claim is recorded with a verdict word
        assert A.claim_word(r["value"]) == word == scorecard._trend_verdict(r["value"]), m
        if profile == "full":                                  # the box and the scorecard show full's records
            key = (r["question"], m[len("claim: "):] if m.startswith("claim: ") else m)
            assert boxed[key] == word, key
            if len(trend):
                assert card.loc[r["question"], "verdict"] == word, r["question"]
        checked += 1
    assert checked >= 10


#: a gap verdict and the scorecard's word for the same number
_GAP_WORDS = {"within noise": {"matches within noise"}, "inconclusive": {"inconclusive"},
              "explained": {"below", "above"}, "not explained": {"below", "above"}}


@pytest.mark.parametrize("profile", ["full", "quick"])
def test_every_gap_verdict_agrees_with_the_scorecards_word(profile):
    """For each recorded gap attribution ("attribution verdict | X") whose number "test accuracy | X"
    the scorecard judges, both use the one 95% prediction band: "within noise" on the page ⇔ "matches
    within noise" in the scorecard and the box, "inconclusive" ⇔ "inconclusive", and the gap's sign
    (ours − report) agrees with "below"/"above".

    Checked on the pages of that profile executed under the present code and rules (status
    "current"): a stale page's records were computed by an older rule, its page carries the stale
    banner, and re-executing it (``idl-book status`` names it) is the fix, not this test."""
    from idl_helpers.core import results
    from idl_book import scorecard
    from idl_book.page_status import page_status

    recs = results.load(root=ROOT / "book" / "results")
    recs = recs[recs["profile"] == profile]
    gap_pages = set(recs[recs["metric"].astype(str).str.startswith("attribution verdict |")]["notebook"])
    current = {p.name for p in page_status(profile) if p.state == "current"}
    if not gap_pages & current:
        pytest.skip(f"no {profile} page with gap verdicts is current ({', '.join(sorted(gap_pages))} are not): "
                    f"re-run them with `idl-book run --profile {profile} --only NAME`")
    recs = recs[recs["notebook"].isin(current)]
    reg = reports.table()
    checked = 0
    for _, r in recs[recs["metric"].astype(str).str.startswith("attribution verdict |")].iterrows():
        setting = r["metric"].split("|", 1)[1].strip()
        if setting.endswith("test accuracy"):          # the token-wise pages: "best mlp test accuracy", "test accuracy"
            what = setting[: -len("test accuracy")].strip()
            metric = f"test accuracy | {what}" if what else "test accuracy"
        else:
            metric = f"test accuracy | {setting}"
        ours = recs[(recs["question"] == r["question"]) & (recs["metric"] == metric)]
        theirs = reg[(reg["question"] == r["question"]) & (reg["metric"] == metric)]
        if ours.empty or theirs.empty:
            continue
        word = scorecard.number_verdict(r["question"], metric, ours.iloc[-1]["value"], theirs.iloc[0]["value"],
                                        scorecard._per_seed(ours.iloc[-1]))
        recorded = str(r["value"])
        assert word in _GAP_WORDS[recorded], f"{r['notebook']}: page says {recorded!r}, scorecard {word!r}"
        gap = r["extra"].get("gap") if isinstance(r["extra"], dict) else None
        if word in ("below", "above") and gap is not None:
            assert (gap < 0) == (word == "below"), f"{r['notebook']}: gap {gap:+.3f} is not ours − report"
        checked += 1
    assert checked >= len(gap_pages & current)   # at least one gap checked per current page


def test_the_course_pipeline_ladder_explains_the_gap_in_the_questions_own_box(tmp_path):
    """Page 24's ladder verdict for I.P1.b shows in the GRU page's box (with a link to the ladder),
    from the ladder's record — and a planted verdict text changes what the box says."""
    for d in ("notebooks", "book/results"):
        shutil.copytree(ROOT / d, tmp_path / d)
    text = "planted: explained — the course's pipeline predicts 0.88 against the report's 0.89"
    payload = json.loads((ROOT / "book/results/quick/11_I_P1b_gru.json").read_text())  # a real file's fields
    record = {**payload["records"][0], "question": "I.P1.b", "metric": "ladder: verdict", "value": "explained",
              "extra": {"text": text}}
    payload.update(notebook=A.LADDER_PAGE, records=[record])
    (tmp_path / "book/results/quick" / f"{A.LADDER_PAGE}.json").write_text(json.dumps(payload))
    A.rows_by_page(tmp_path)
    whys = A.WHY.get("11_I_P1b_gru", [])
    assert [w for w in whys if w[1] == text and w[2] == f"{A.LADDER_PAGE}.html"], whys
    rows = A.rows_by_page(tmp_path)["11_I_P1b_gru"]
    html = A.box(rows, A.WHY["11_I_P1b_gru"])
    assert "planted: explained" in html and f'href="{A.LADDER_PAGE}.html"' in html
    assert not any(w[1] == text for stem, ws in A.WHY.items() if stem != "11_I_P1b_gru" for w in ws)
