"""The text range: a sentencepiece BPE model with byte fallback and the marker symbols.

Normalisation rule: none. `normalization_rule_name="identity"`, no dummy prefix, no whitespace
folding, so `decode(encode(text)) == text` for every string (the extract stage already normalised
the text to NFC, unix newlines). Characters outside the learned pieces fall back to their UTF-8
bytes as `<0xNN>` pieces, so no text is ever `<unk>`. The markers (`<|image|>`, ...) are
user-defined symbols: one id each, and text that contains the literal string encodes to the marker.

Training reads text lines (each at most `max_sentence_length` bytes; documents are cut at line
breaks and spaces before that) from a file; sentencepiece samples `input_sentence_size` of them with
its seeded reservoir and shuffles them. On a corpus too small for the requested vocabulary the
vocabulary is a soft limit (`hard_vocab_limit=False`): the model gets the pieces the corpus allows,
and `GetPieceSize()` is the effective size recorded in vocab.json.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

import sentencepiece as spm

MAX_SENTENCE_BYTES = 4096  # sentencepiece's default max_sentence_length is 4192 bytes
N_SPECIAL = 3  # <unk>, <s>, </s>


def text_lines(text: str, max_bytes: int = MAX_SENTENCE_BYTES) -> Iterator[str]:
    """Cut a document into training lines of at most `max_bytes` UTF-8 bytes, at line breaks,
    then at spaces, then anywhere; the newline itself is kept so pieces can learn it.

    >>> list(text_lines("ab cd\\nef", max_bytes=4))
    ['ab ', 'cd\\n', 'ef']
    """
    for line in text.splitlines(keepends=True):
        while len(line.encode("utf-8")) > max_bytes:
            cut = line.rfind(" ", 0, max_bytes)
            cut = cut + 1 if cut > 0 else max_bytes // 4  # a char is at most 4 bytes
            yield line[:cut]
            line = line[cut:]
        if line.strip("\n") or line:
            yield line


def train_bpe(lines_file: Path, prefix: Path, *, vocab_size: int, markers: Iterable[str], seed: int = 0,
              input_sentence_size: int = 2_000_000, character_coverage: float = 0.9995,
              threads: int | None = None) -> spm.SentencePieceProcessor:
    """Train `prefix.model` / `prefix.vocab` from one line of text per line of `lines_file`.

    The marker symbols and the 256 byte pieces come first; `vocab_size` counts them. Returns the
    loaded model (its GetPieceSize() may be below `vocab_size` on a small corpus).
    """
    markers = list(markers)
    floor = N_SPECIAL + 256 + len(markers) + 1
    if vocab_size < floor:
        raise ValueError(f"tokenizer.vocab_size={vocab_size} is below the {floor} pieces that byte fallback and "
                         f"the markers take; use at least {floor}")
    spm.set_random_generator_seed(seed)
    spm.SentencePieceTrainer.train(
        input=str(lines_file), model_prefix=str(prefix), model_type="bpe", vocab_size=vocab_size,
        hard_vocab_limit=False, byte_fallback=True, user_defined_symbols=markers,
        normalization_rule_name="identity", add_dummy_prefix=False, remove_extra_whitespaces=False,
        split_digits=True, allow_whitespace_only_pieces=True, character_coverage=character_coverage,
        input_sentence_size=input_sentence_size, shuffle_input_sentence=True,
        max_sentence_length=MAX_SENTENCE_BYTES + 64, num_threads=threads or os.cpu_count() or 1,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_file=f"{prefix}.model")
