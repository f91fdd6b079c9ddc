"""datatrove's text quality filters (Gopher quality, Gopher repetition, C4, FineWeb), as thresher
filters: same rules, thresholds from their typed config (thresher.filters.config), multilingual words, and
tagged rejects.

They judge natural-language text only: records of kind `text` that are not source code. PDF and
EPUB text (hard-wrapped lines, running heads) is judged by the document rules in `media.py`; source
code, whose lines are short, symbol-heavy and repetitive by nature, only meets the encoding rules
in `garbage.py`.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter

from datatrove.data import Document
from datatrove.pipeline.filters.c4_filters import C4QualityFilter
from datatrove.pipeline.filters.fineweb_quality_filter import FineWebQualityFilter
from datatrove.pipeline.filters.gopher_quality_filter import (
    STOP_WORDS as GOPHER_EN_STOP_WORDS,
)
from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter
from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter
from datatrove.utils.text import PUNCTUATION_SET, split_into_words
from thresher.filters.base import ThresherFilter
from thresher.filters.config import (
    C4Rules,
    FineWebRules,
    GopherQualityRules,
    GopherRepetitionRules,
)
from thresher.filters.corpus_words import FOLDER as LEARNED_FOLDER
from thresher.filters.corpus_words import load_lists
from thresher.filters.langid import record_lang
from thresher.filters.stopwords import count_function_words
from thresher.filters.words import UnicodeWordTokenizer

from thresher.records import Kind

CODE_EXTENSIONS = frozenset(
    "py pyi js mjs cjs ts tsx jsx java c h cc cpp hpp cxx cs go rs rb php swift kt kts scala m mm r jl lua pl pm "
    "sh bash zsh ps1 sql hs ml fs clj ex exs erl dart vue svelte css scss less json yaml yml toml ini xml "
    "gradle cmake makefile dockerfile proto tex".split()
)
# A line that only source code writes: a keyword at its start, or a bracket/semicolon at its end.
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |function |const |let |var |return\b|if \(|for \(|while \(|"
    r"#include|package |public |private |fn |func |struct |enum |impl |module\.exports|export |@\w+)"
    r"|[{};]\s*$|^\s*[}\])]"
)


def looks_like_code(doc: Document) -> bool:
    """Source code, by file extension or (for table rows) because a third of its lines are code.

    >>> looks_like_code(Document(text="def f(x):\\n    return x\\n", id="a", metadata={"uri": "a.txt"}))
    True
    """
    uri = str(doc.metadata.get("uri") or "").lower().split("#", 1)[0]
    ext = uri.rsplit(".", 1)[-1] if "." in uri.rsplit("/", 1)[-1] else uri.rsplit("/", 1)[-1]
    if ext in CODE_EXTENSIONS:
        return True
    lines = [ln for ln in doc.text[:20000].split("\n") if ln.strip()]
    return bool(lines) and sum(bool(_CODE_LINE.search(ln)) for ln in lines) >= max(2, len(lines) / 3)


def is_prose(doc: Document) -> bool:
    """The records the prose rules judge: text records with text, not source code. The answer is
    cached on the record (`extra.code`) so the four filters decide once."""
    if doc.metadata.get("kind", Kind.TEXT) != Kind.TEXT or not doc.text:
        return False
    extra = doc.metadata.setdefault("extra", {})
    code = extra.get("code")
    if code is None:
        code = extra["code"] = looks_like_code(doc)
    return not code


class _ProseFilter(ThresherFilter):
    def applies(self, doc: Document) -> bool:
        return is_prose(doc)


class GopherQuality(_ProseFilter, GopherQualityFilter):
    """Gopher's quality rules. With `stop_words: all` (garbage_only) the stop-word rule is thresher's:
    the function words of the record's own language (filters/stopwords.py, ~85 languages, matched as
    substrings in scripts without spaces), completed by the words the corpus's own documents of that
    language share (learned by the stage's pre-pass into `filter/_function_words/`, or given as
    `learned`), and no verdict at all for a language without either. With `stop_words: en` it is
    Gopher's English rule, as datatrove runs it."""

    rule_prefix = "gopher_quality"

    def __init__(self, rules: GopherQualityRules, tokenizer: UnicodeWordTokenizer, folder: str | os.PathLike | None = None,
                 learned: dict[str, frozenset[str]] | None = None):
        self._learned = learned
        self._learned_folder = None if folder is None else os.path.join(folder, LEARNED_FOLDER)
        self.per_language = rules.stop_words == "all"
        self.min_function_words = rules.min_stop_words if self.per_language else 0
        kwargs = rules.model_dump(exclude={"enabled", "stop_words"})
        if self.per_language:
            kwargs["min_stop_words"] = 0  # datatrove's check is replaced by the per-language one below
        GopherQualityFilter.__init__(self, **kwargs, stop_words=list(GOPHER_EN_STOP_WORDS), language=tokenizer)
        ThresherFilter.__init__(self, folder)

    def filter(self, doc: Document) -> bool | tuple:
        ellipsis = self.max_ellipsis_lines_ratio
        if doc.text.count("\n") < 2:
            # a share of lines ending in "..." says nothing about a text of one or two lines
            self.max_ellipsis_lines_ratio = 0
        try:
            result = GopherQualityFilter.filter(self, doc)
        finally:
            self.max_ellipsis_lines_ratio = ellipsis
        if result is not True:
            return result[0], result[1], self._detail(doc, result[1])
        if self.min_function_words:
            lang = record_lang(doc)
            counts = count_function_words(doc.text, lang, self.learned.get(lang))
            if counts is None:
                self.stat_update("stop_words_abstained")  # no list for this language: no verdict
            elif _number_share(doc.text) >= 0.2:
                self.stat_update("stop_words_abstained")  # a table or a list of figures has no function words
            elif counts[0] < self.min_function_words:
                return False, "gopher_enough_stop_words", f"stop words {counts[0]} < {self.min_function_words}, lang={lang}"
        return True

    @property
    def learned(self) -> dict[str, frozenset[str]]:
        """The corpus-learned function words per language, read in the worker on first use (the
        pre-pass writes them after this filter was planned)."""
        if self._learned is None:
            self._learned = load_lists(self._learned_folder)
        return self._learned

    def _detail(self, doc: Document, rule: str) -> str:
        """The measured value beside its threshold, recomputed for the rule that fired (rare, so cheap)."""
        words = split_into_words(doc.text, self.language)
        content = [w for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
        lang = doc.metadata.get("lang", "?")
        n = max(1, len(words))
        measured = {
            "gopher_short_doc": f"words {len(content)} < {self.min_doc_words}",
            "gopher_long_doc": f"words {len(content)} > {self.max_doc_words}",
            "gopher_below_avg_threshold": f"mean word length {_mean_len(content):.2f} < {self.min_avg_word_length}",
            "gopher_above_avg_threshold": f"mean word length {_mean_len(content):.2f} > {self.max_avg_word_length}",
            "gopher_too_many_hashes": f"'#' per word {doc.text.count('#') / n:.3f} > {self.max_symbol_word_ratio}",
            "gopher_too_many_ellipsis": f"ellipses per word {(doc.text.count('...') + doc.text.count('…')) / n:.3f} "
                                        f"> {self.max_symbol_word_ratio}",
            "gopher_below_alpha_threshold": f"alphabetic words {sum(any(c.isalpha() for c in w) for w in words) / n:.3f}"
                                            f" < {self.max_non_alpha_words_ratio}",
            "gopher_enough_stop_words": f"English stop words {len(self.stop_words & set(words))} < {self.min_stop_words}",
        }.get(rule, rule)
        return f"{measured}, lang={lang}"


_NUMBER = re.compile(r"\d")


def _number_share(text: str) -> float:
    """Share of whitespace-separated tokens holding a digit."""
    tokens = text[:20000].split()
    return sum(bool(_NUMBER.search(t)) for t in tokens) / max(1, len(tokens))


def _mean_len(words: list[str]) -> float:
    return sum(map(len, words)) / max(1, len(words))


class GopherRepetition(_ProseFilter, GopherRepetitionFilter):
    """Gopher's repetition rules. The top-n-gram rule counts only an n-gram that occurs twice or more:
    datatrove's takes the most common n-gram even when every n-gram occurs once, which rejects short
    texts (a 12-word review) for "repetition" they do not have."""

    rule_prefix = "gopher_repetition"

    def __init__(self, rules: GopherRepetitionRules, tokenizer: UnicodeWordTokenizer, folder: str | os.PathLike | None = None):
        kwargs = rules.model_dump(exclude={"enabled"})
        self.top_n = tuple(tuple(x) for x in kwargs.pop("top_n_grams"))
        kwargs["dup_n_grams"] = tuple(tuple(x) for x in kwargs["dup_n_grams"])
        GopherRepetitionFilter.__init__(self, **kwargs, top_n_grams=(), language=tokenizer)
        ThresherFilter.__init__(self, folder)

    def filter(self, doc: Document) -> bool | tuple:
        result = GopherRepetitionFilter.filter(self, doc)
        if result is not True:
            rule = result[1]
            limit = getattr(self, rule, None)
            if rule.startswith("duplicated_"):
                limit = dict(self.dup_n_grams).get(int(rule.split("_")[1]))
            return result[0], rule, f"{rule} > {limit}, lang={doc.metadata.get('lang', '?')}"
        words = split_into_words(doc.text, self.language)
        for n, frac in self.top_n:
            grams = Counter(zip(*(words[i:] for i in range(n))))  # n-grams as tuples: counted in C
            if not grams:
                continue
            gram, count = grams.most_common(1)[0]
            if count > 1 and sum(map(len, gram)) * count / len(doc.text) > frac:
                return False, f"top_{n}_gram", (f"top {n}-gram x{count} covers {sum(map(len, gram)) * count / len(doc.text):.2f} "
                                                f"> {frac} of chars, lang={doc.metadata.get('lang', '?')}")
        return True


class C4Quality(_ProseFilter, C4QualityFilter):
    """C4's rules. With `keep_text` (garbage_only) the record's text is never rewritten: datatrove's
    C4 filter joins the kept lines back without blank lines, which would flatten every paragraph."""

    rule_prefix = "c4"

    def __init__(self, rules: C4Rules, tokenizer: UnicodeWordTokenizer, folder: str | os.PathLike | None = None):
        C4QualityFilter.__init__(self, **rules.model_dump(exclude={"enabled", "keep_text"}), language=tokenizer)
        ThresherFilter.__init__(self, folder)
        self.keep_text = rules.keep_text

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = doc.text
        result = C4QualityFilter.filter(self, doc)
        if self.keep_text:
            doc.text = text
        if result is not True:
            return result[0], result[1], f"C4 rule {result[1]}, lang={doc.metadata.get('lang', '?')}"
        return result


class FineWebQuality(_ProseFilter, FineWebQualityFilter):
    """FineWeb's rules; a threshold of 0 turns its rule off (datatrove itself has no off switch)."""

    rule_prefix = "fineweb"

    def __init__(self, rules: FineWebRules, tokenizer: UnicodeWordTokenizer, folder: str | os.PathLike | None = None):
        kwargs = rules.model_dump(exclude={"enabled"})
        for key in ("short_line_thr", "char_duplicates_ratio", "new_line_ratio"):
            if not kwargs[key]:
                kwargs[key] = math.inf
        FineWebQualityFilter.__init__(self, **kwargs, language=tokenizer)
        ThresherFilter.__init__(self, folder)

    def filter(self, doc: Document) -> bool | tuple:
        result = FineWebQualityFilter.filter(self, doc)
        if result is not True:
            limits = {"line_punct_ratio": f"< {self.line_punct_thr}", "short_line_ratio": f"> {self.short_line_threshold}",
                      "char_dup_ratio": f"> {self.char_duplicates_ratio}", "list_ratio": f"> {self.new_line_ratio}"}
            return result[0], result[1], (f"{result[1]} {limits.get(result[1], 'beyond its threshold')}, "
                                          f"lang={doc.metadata.get('lang', '?')}")
        return result
