"""Function words learned from the corpus (filters/corpus_words.py) and the filter stage's pre-pass
that learns them (filters/prepass.py): lists per language from real documents of the development
set, nothing learned below `min_docs`, menus never teach, the ranks' counts add up, and a damaged
list stops the stage with the file's name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from thresher.filters.corpus_words import (
    FORMAT_VERSION,
    WordCounts,
    count_words,
    learn_lists,
    load_lists,
    save_lists,
)
from thresher.pipelines.config import load_config
from thresher.pipelines.engine import count_rows, run_plan
from thresher.pipelines.filter import plan

from thresher.errors import StageError
from thresher.io import RecordWriter
from thresher.records import Kind, new_document

DATA = Path(__file__).resolve().parents[1] / "data" / "real" / "text"


def _good(lang: str) -> list[str]:
    with open(DATA / "good.jsonl", encoding="utf-8") as f:
        return [r["text"] for r in map(json.loads, f) if r["lang"] == lang]


def test_a_language_below_min_docs_learns_nothing():
    georgian = _good("ka")
    counts = count_words([("ka", t) for t in georgian] + [("hy", t) for t in _good("hy")[:4]])
    lists = learn_lists(counts, min_docs=5)
    assert "hy" not in lists and counts.docs["hy"] == 4  # counted, but too few to say what they share
    assert {"და", "არის"} <= lists["ka"] and len(lists["ka"]) <= 100
    assert all(counts.df["ka"][w] >= 2 for w in lists["ka"])
    assert learn_lists(counts, min_docs=len(georgian) + 1) == {}


def test_menus_and_ui_strings_do_not_teach():
    menu = "Home\nNews\nSport\nWeather\nContact us\nLog in"
    counts = count_words([("en", menu)] * 20)
    assert counts.docs["en"] == 0 and learn_lists(counts) == {}


def test_the_ranks_counts_add_up_to_one_count():
    docs = [("fi", t) for t in _good("fi")]
    whole = count_words(docs)
    parts = [WordCounts.from_json(json.loads(json.dumps(count_words(docs[k::3]).to_json()))) for k in range(3)]
    merged = WordCounts()
    for p in parts:
        merged.merge(p)
    assert merged.docs == whole.docs and merged.df["fi"] == whole.df["fi"]
    with pytest.raises(ValueError, match="format"):
        WordCounts.from_json({"format_version": 99, "docs": {}, "df": {}})


def test_saved_lists_load_back_and_damaged_ones_stop_the_stage(tmp_path):
    counts = count_words([("ka", t) for t in _good("ka")])
    lists = learn_lists(counts)
    save_lists(tmp_path, lists, counts)
    assert load_lists(tmp_path) == lists and load_lists(tmp_path / "absent") == {} and load_lists(None) == {}
    (tmp_path / "xx.json").write_text('{"format_version": 1, "lang": "xx", "wor')
    with pytest.raises(StageError, match="xx.json is damaged"):
        load_lists(tmp_path)
    (tmp_path / "xx.json").write_text(json.dumps({"format_version": FORMAT_VERSION + 1, "lang": "xx", "words": []}))
    with pytest.raises(StageError, match="format version"):
        load_lists(tmp_path)


def test_the_stage_learns_from_its_input_and_judges_with_it(tmp_path):
    """Amharic, Georgian and Armenian documents in two ranks: the pre-pass saves a list for each language
    with enough documents (not for the one with two), and the filter pass keeps them all."""
    texts = {"am": _good("am"), "ka": _good("ka"), "hy": _good("hy")[:2]}
    docs = [new_document(id=f"{lang}-{k}", kind=Kind.TEXT, source="s", uri=f"{lang}/{k}.txt", text=text)
            for lang, rows in texts.items() for k, text in enumerate(rows)]
    n = len(docs)
    for rank in (0, 1):  # every other document in each of two files, read by two tasks
        w = RecordWriter(tmp_path / "dedup")
        for d in docs[rank::2]:
            w.write(d, rank)
        w.close()
    cfg = load_config({"workdir": str(tmp_path), "executor": {"workers": 1, "tasks": 2}})
    result, _ = run_plan(cfg, plan(cfg))
    learned = tmp_path / "filter" / "_function_words"
    assert sorted(p.name for p in learned.glob("*.json")) == ["am.json", "ka.json"]
    am = json.loads((learned / "am.json").read_text(encoding="utf-8"))
    assert am["docs"] == len(texts["am"]) and am["words"] and am["format_version"] == FORMAT_VERSION
    assert result.read == n and count_rows(tmp_path / "filter") == n  # the 3 Amharic documents without a listed word too
    assert not (tmp_path / "filter" / "_rejected").exists() or count_rows(tmp_path / "filter" / "_rejected") == 0


def test_the_pre_pass_is_off_with_learned_words_off(tmp_path):
    cfg = load_config({"workdir": str(tmp_path), "filter": {"learned_words": {"enabled": False}}})
    assert plan(cfg).then == [] and plan(cfg).name == "filter"
    cfg = load_config({"workdir": str(tmp_path), "filter": {"preset": "datatrove"}})
    assert plan(cfg).then == []  # English stop words: nothing to learn
