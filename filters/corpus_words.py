"""Function words learned from the corpus being filtered: per language, the words most of its
documents share (highest document frequency), which complete the shipped stop-word lists
(filters/stopwords.py). A shipped list misses what its makers did not list (spaCy's Amharic list
holds no clitic-joined forms, Georgian, Armenian and Malayalam have no list of 100 words at all);
the user's own documents of that language say which words every text of it uses.

A cheap pre-pass (filters/prepass.py) counts, per language, in how many documents each word occurs
(the first `max_chars` characters of at most `max_docs` documents per language, per rank), the
counts of the ranks are added, and each language with at least `min_docs` documents gets its
`max_words` most widespread words (each in at least `min_df` documents), saved as
`filter/_function_words/<lang>.json`. A language with fewer documents gets no file: below that,
"what its documents share" is chance, and the rule keeps to the shipped list or abstains.

Only prose teaches: a document is counted when its lines are sentences, not labels (the median
non-blank line holds at least `MIN_LINE_CHARS` characters), so that the menus, consent buttons and
UI strings of a corpus never teach the rule that their words are the language's function words.
(Gating on the shipped list instead, counting only documents that hold one of its words, would
never learn what the list misses: the Amharic grammar sentences without any word of spaCy's list
share their words with each other, not with the list.)
Scripts written without spaces (Han, kana, Thai...) are not learned: a regex cannot cut them into
words, and their shipped lists are matched as substrings already.

    >>> docs = [("ka", "ეს არის ძალიან დიდი წიგნი და ეს არის ჩვენი სახლი"), ("ka", "ეს კაცი არის აქ, ის ჩვენთან ცხოვრობს დიდხანს"),
    ...         ("ka", "და ეს ქალი ჩვენი მეზობელია უკვე ოცი წელია")]
    >>> sorted(learn_lists(count_words(docs), min_docs=3, min_df=2)["ka"])
    ['არის', 'და', 'ეს', 'ჩვენი']
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import regex
from thresher.filters.stopwords import is_spaceless
from thresher.filters.words import UnicodeWordTokenizer

from thresher.errors import StageError

FORMAT_VERSION = 1
FOLDER = "_function_words"  # under the filter stage's folder
_LETTER = regex.compile(r"\p{L}")
MIN_LINE_CHARS = 40
_tokenizer = UnicodeWordTokenizer()


def doc_words(text: str, max_chars: int = 5000) -> set[str]:
    """The distinct lower-cased words (with a letter) of a text's head, as the stop-word rule reads
    them (filters/stopwords.py counts whole lower-cased words of the first 5,000 characters)."""
    return {w.lower() for w in _tokenizer.word_tokenize(text[:max_chars]) if _LETTER.search(w)}


def is_sentences(text: str) -> bool:
    """True when the median non-blank line holds MIN_LINE_CHARS characters or more.

    >>> is_sentences("Home\\nNews\\nContact us"), is_sentences("The harbour opened at dawn, and the boats left.")
    (False, True)
    """
    lengths = sorted(len(ln.strip()) for ln in text.split("\n") if ln.strip())
    return bool(lengths) and lengths[len(lengths) // 2] >= MIN_LINE_CHARS


@dataclass
class WordCounts:
    """Per language: documents counted and each word's document frequency."""

    docs: Counter = field(default_factory=Counter)
    df: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, lang: str, text: str, max_docs: int = 5000, max_chars: int = 5000) -> bool:
        """Count one document; False when it is not counted (spaceless script, `max_docs` reached, or
        lines too short to be sentences)."""
        if not lang or self.docs[lang] >= max_docs or is_spaceless(lang, text) or not is_sentences(text[:max_chars]):
            return False
        words = doc_words(text, max_chars)
        if not words:
            return False
        self.docs[lang] += 1
        self.df[lang].update(words)
        return True

    def merge(self, other: "WordCounts") -> None:
        self.docs.update(other.docs)
        for lang, counts in other.df.items():
            self.df[lang].update(counts)

    def to_json(self, keep: int = 20000) -> dict:
        """The counts, each language's `keep` most widespread words only (a rank's part file stays small;
        a word outside a rank's top `keep` cannot be among the few hundred that the merge keeps unless it
        is widespread in other ranks, where it is counted)."""
        return {"format_version": FORMAT_VERSION, "docs": dict(self.docs),
                "df": {lang: dict(c.most_common(keep)) for lang, c in self.df.items()}}

    @classmethod
    def from_json(cls, data: dict) -> "WordCounts":
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"word counts of format {data.get('format_version')}, this thresher reads {FORMAT_VERSION}")
        out = cls()
        out.docs.update(data["docs"])
        for lang, counts in data["df"].items():
            out.df[lang].update(counts)
        return out


def count_words(docs: Iterable[tuple[str, str]], max_docs: int = 5000) -> WordCounts:
    """(lang, text) pairs -> WordCounts."""
    counts = WordCounts()
    for lang, text in docs:
        counts.add(lang, text, max_docs)
    return counts


def learn_lists(counts: WordCounts, min_docs: int = 5, max_words: int = 100, min_df: int = 2) -> dict[str, frozenset[str]]:
    """Per language with >= `min_docs` documents: its `max_words` words of highest document frequency,
    each in at least `min_df` documents (ties broken by the word, so the result is deterministic)."""
    out = {}
    for lang, n in counts.docs.items():
        if n < min_docs:
            continue
        ranked = sorted(((c, w) for w, c in counts.df[lang].items() if c >= min_df), key=lambda cw: (-cw[0], cw[1]))
        if ranked:
            out[lang] = frozenset(w for _, w in ranked[:max_words])
    return out


def write_json(path: Path, data: dict) -> None:
    """`data` as JSON at `path`, written to a temporary name and renamed (no half file under the name)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def save_lists(folder: str | os.PathLike, lists: dict[str, frozenset[str]], counts: WordCounts) -> None:
    """`<folder>/<lang>.json` per language."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for lang, words in lists.items():
        df = counts.df[lang]
        entry = {"format_version": FORMAT_VERSION, "lang": lang, "docs": counts.docs[lang],
                 "words": sorted(words, key=lambda w: (-df[w], w)), "df": {w: df[w] for w in words}}
        write_json(folder / f"{lang}.json", entry)


def load_lists(folder: str | os.PathLike | None) -> dict[str, frozenset[str]]:
    """The lists a pre-pass saved under `folder` ({} when there are none). A damaged file or one of
    another format version stops the stage with its name (StageError): judging with half the lists
    would drop a language silently."""
    if folder is None or not Path(folder).is_dir():
        return {}
    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            version = data.get("format_version")
            if version == FORMAT_VERSION:
                out[data["lang"]] = frozenset(data["words"])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise StageError(f"{path} is damaged ({type(e).__name__}: {e}); run the filter stage again with --force") from None
        if version != FORMAT_VERSION:
            raise StageError(f"{path}: format version {version}, this thresher reads {FORMAT_VERSION}; "
                             "run the filter stage again with --force")
    return out
