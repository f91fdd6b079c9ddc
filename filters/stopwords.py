"""Function words (stop words) per language, for every language a well-kept list exists for, and
a count that works on scripts written without spaces.

Sources, merged per language: spaCy's stop-word lists (about 75 languages; read as data files, so
no spaCy model or pipeline is loaded and `import spacy` is never paid), stopwords-iso (about 58),
and thresher's own short lists (filters/words.py). Entries without a letter (punctuation, digits,
which some lists carry) are dropped: they would make any string "prose".

A language with no list gets None: the stop-word rule abstains on it rather than drop a language
it does not know (`function_words("ka")` is None, so Georgian is never judged by a shipped list).
Lists learned from the user's own corpus (filters/corpus_words.py) complete them: `learned` words
are added to the shipped list, of any size, and make a language without one judgeable.

Scripts without spaces between words (Han, kana, Thai, Lao, Khmer, Myanmar, Tibetan) cannot be
split into words by a regex, so there a function word is counted where it occurs as a substring;
elsewhere it is counted as a whole, lower-cased word.

    >>> count_function_words("The cat sat on the mat.", "en")
    (2, 3)
    >>> count_function_words("床前明月光，疑是地上霜。", "zh")[0] > 0
    True
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path

import regex
from thresher.filters.words import STOP_WORDS as THRESHER_LISTS
from thresher.filters.words import UnicodeWordTokenizer

# lid.176 codes that name a language by another code in the lists
_ALIASES = {"no": "nb", "nn": "nb", "iw": "he", "wuu": "zh", "yue": "zh", "jv": "id", "ms": "ms"}
SPACELESS_SCRIPT = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}]")
SPACELESS_LANGS = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "wuu", "yue"})
_LETTER = regex.compile(r"\p{L}")
_KANA = regex.compile(r"[\p{Hiragana}\p{Katakana}]")
_tokenizer = UnicodeWordTokenizer()


def _spacy_lists() -> dict[str, set[str]]:
    """spaCy's `spacy/lang/<code>/stop_words.py`, each executed alone (they define STOP_WORDS and import
    nothing), without importing the spacy package (which loads thinc and takes seconds)."""
    spec = importlib.util.find_spec("spacy")
    if spec is None or not spec.submodule_search_locations:
        return {}
    out = {}
    for path in sorted(Path(next(iter(spec.submodule_search_locations))).glob("lang/*/stop_words.py")):
        mod_spec = importlib.util.spec_from_file_location(f"_thresher_spacy_sw_{path.parent.name}", path)
        module = importlib.util.module_from_spec(mod_spec)
        try:
            mod_spec.loader.exec_module(module)
        except Exception:  # a list that imports spaCy internals: that one language keeps its other sources
            continue
        words = getattr(module, "STOP_WORDS", None)
        if words:
            out[path.parent.name] = set(words)
    return out


def _iso_lists() -> dict[str, set[str]]:
    spec = importlib.util.find_spec("stopwordsiso")
    if spec is None or spec.origin is None:
        return {}
    data = json.loads((Path(spec.origin).parent / "stopwords-iso.json").read_text(encoding="utf-8"))
    return {lang: set(words) for lang, words in data.items() if isinstance(words, list)}


@lru_cache(maxsize=1)
def all_lists() -> dict[str, frozenset[str]]:
    """language code -> function words (lower-cased, each with at least one letter)."""
    merged: dict[str, set[str]] = {}
    for source in (_spacy_lists(), _iso_lists(), {k: set(v) for k, v in THRESHER_LISTS.items()}):
        for lang, words in source.items():
            merged.setdefault(lang, set()).update(w.strip().lower() for w in words)
    return {lang: frozenset(w for w in words if w and _LETTER.search(w)) for lang, words in merged.items()}


MIN_LIST = 100  # entries; a shorter list (Malayalam's has 9) misses too much real text to be evidence


def function_words(lang: str | None, learned: frozenset[str] | None = None) -> frozenset[str] | None:
    """The language's function words, or None when no list of MIN_LIST entries knows the language.
    With `learned` (the words the corpus's documents of `lang` share), the shipped list of any size
    plus those."""
    if not lang:
        return None
    if learned:
        return _completed(lang, learned)
    words = _shipped(lang)
    return words if len(words) >= MIN_LIST else None


def _shipped(lang: str) -> frozenset[str]:
    lists = all_lists()
    return lists.get(lang) or lists.get(_ALIASES.get(lang, "")) or frozenset()


@lru_cache(maxsize=256)
def _completed(lang: str, learned: frozenset[str]) -> frozenset[str]:
    return _shipped(lang) | learned


@lru_cache(maxsize=256)
def _max_len(words: frozenset[str]) -> int:
    return max(map(len, words or ("",)))


def is_spaceless(lang: str | None, text: str) -> bool:
    """True for languages written without spaces, or text that is mostly such a script."""
    if lang in SPACELESS_LANGS:
        return True
    sample = text[:2000]
    return len(SPACELESS_SCRIPT.findall(sample)) > 0.3 * max(1, len(sample.replace(" ", "")))


def count_function_words(text: str, lang: str | None, learned: frozenset[str] | None = None) -> tuple[int, int] | None:
    """(distinct function words found, occurrences) in the first 5,000 characters of `text` for `lang`
    (its shipped list completed by `learned`); None when `lang` has no list. Spaceless scripts are
    matched as substrings (overlapping ones all count), other scripts as whole words."""
    if lang == "ja" and not _KANA.search(text[:5000]):
        lang = "zh"  # lid.176 names classical and traditional Chinese "ja"; Japanese without kana is not written
    words = function_words(lang, learned)
    if words is None:
        return None
    if is_spaceless(lang, text):
        # every substring of up to the longest entry, looked up in the set: no regex of 1,700 alternatives
        sample, longest = text[:5000], min(_max_len(words), 8)
        found = [sample[i:i + n] for i in range(len(sample)) for n in range(1, longest + 1) if sample[i:i + n] in words]
    else:
        found = [w for w in (t.lower() for t in _tokenizer.word_tokenize(text[:5000])) if w in words]
    return len(set(found)), len(found)
