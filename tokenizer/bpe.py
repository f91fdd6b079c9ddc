"""The text range: a sentencepiece BPE model with byte fallback and the marker symbols.

Normalisation rule: none. `normalization_rule_name="identity"`, no dummy prefix, no whitespace
folding, so `decode_text(encode_text(text)) == text` for every string (the extract stage already
normalised the text to NFC, unix newlines). One substitution: sentencepiece reads "\n" as the end of
a sentence and never learns it, so a newline would cost a byte token and never merge (5% worse
compression than HF's byte-level BPE on code and prose); we write it as the private-use character
NEWLINE (U+E00A) in training and encoding, so pieces such as ":\n" or "\n\n" are learned, and map it
back when decoding. A literal U+E00A in the text is escaped as its three UTF-8 byte tokens. Characters outside the learned pieces fall back to their UTF-8
bytes as `<0xNN>` pieces, so no text is ever `<unk>`. The markers (`<|image|>`, ...) are
user-defined symbols: one id each, and text that contains the literal string encodes to the marker.

Training reads text lines (documents with newlines as NEWLINE, cut at spaces into lines of at most
`MAX_SENTENCE_BYTES`) from a file; when it holds more than `input_sentence_size` lines, a seeded
sample of that many is streamed to sentencepiece (`pick_lines`; sentencepiece's own reservoir drew
another sample in each process whatever the seed). That size is `sample_sentences`, lowered when the text
holds more than `sample_bytes` so that the lines sampled hold about that many bytes
(`sentences_for`); below the byte cap the model is the one the line cap alone gives. On a corpus too small for the requested vocabulary the
vocabulary is a soft limit (`hard_vocab_limit=False`): the model gets the pieces the corpus allows,
and `GetPieceSize()` is the effective size recorded in vocab.json.

`TextCodec` is the text kind's codec (tokenizer/codec.py); `CAPTION` decodes the text between
<|caption|> and <|/caption|>.
"""

from __future__ import annotations

import ctypes
import io
import os
import random
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import sentencepiece as spm
from thresher.tokenizer.codec import Codec, Segment
from thresher.tokenizer.layout import FILES, MARKERS

from thresher.records import IMAGE_PLACEHOLDER, Kind

if TYPE_CHECKING:
    from datatrove.data import Document
    from thresher.tokenizer.encode import Encoder
    from thresher.tokenizer.train import Samples
    from thresher.tokenizer.vocab import Vocab

NEWLINE = "\ue00a"
MAX_SENTENCE_BYTES = 4096  # sentencepiece's default max_sentence_length is 4192 bytes
N_SPECIAL = 3  # <unk>, <s>, </s>
# a corpus without text still gets a working BPE (bytes and these characters)
FALLBACK_TEXT = "".join(chr(c) for c in range(32, 127))


def text_lines(text: str, max_bytes: int = MAX_SENTENCE_BYTES) -> Iterator[str]:
    """Cut a document (newlines already NEWLINE) into training lines that fit `max_bytes` UTF-8
    bytes: at most max_bytes // 4 characters, cut after the last space when there is one.

    >>> list(text_lines("ab cd" + NEWLINE + "ef gh", max_bytes=32))
    ['ab ', 'cd\\ue00aef gh']
    """
    step = max(1, max_bytes // 4)  # a character is at most 4 bytes
    while len(text) > step:
        cut = text.rfind(" ", 0, step)
        cut = cut + 1 if cut > 0 else step
        yield text[:cut]
        text = text[cut:]
    if text:
        yield text


def sample_lines(text: str) -> Iterator[str]:
    """A document as training lines: each image placeholder and newline as NEWLINE (sentencepiece
    would read "\\n" as a line end), so a document is one line, cut at spaces when it is long.

    >>> list(sample_lines("a\\nb"))
    ['a\\ue00ab']
    """
    return text_lines(text.replace(IMAGE_PLACEHOLDER, "\n").replace("\n", NEWLINE))


def encode_text(sp: spm.SentencePieceProcessor, text: str, byte_offset: int) -> list[int]:
    """Text -> ids, newlines as NEWLINE pieces, a literal NEWLINE as its byte tokens EE 80 8A."""
    escape = [byte_offset + b for b in NEWLINE.encode()]
    ids: list[int] = []
    for i, part in enumerate(text.split(NEWLINE)):
        if i:
            ids += escape
        if part:
            ids += sp.encode(part.replace("\n", NEWLINE))
    return ids


def decode_text(sp: spm.SentencePieceProcessor, ids: list[int], byte_offset: int) -> str:
    """Inverse of `encode_text` (byte tokens EE 80 8A only ever come from the escape: NEWLINE is a
    required character of the model, so sentencepiece never falls back to bytes for it)."""
    escape = [byte_offset + b for b in NEWLINE.encode()]
    parts, start, i = [], 0, 0
    while i <= len(ids) - 3:
        if ids[i:i + 3] == escape:
            parts.append(ids[start:i])
            start = i = i + 3
        else:
            i += 1
    parts.append(ids[start:])
    return NEWLINE.join(sp.decode(p).replace(NEWLINE, "\n") for p in parts)


def sentences_for(max_sentences: int, max_bytes: int, n_lines: int, n_bytes: int) -> int:
    """sentencepiece's input_sentence_size for `n_lines` lines of `n_bytes` in all: `max_sentences`,
    or fewer when the text holds more than `max_bytes`, so that lines of the average length sampled
    hold about `max_bytes` (`pick_lines` picks them).

    >>> sentences_for(2_000_000, 256_000_000, n_lines=1000, n_bytes=10_000)
    2000000
    >>> sentences_for(2_000_000, 1_000_000, n_lines=10_000, n_bytes=4_000_000)  # 400 bytes a line
    2500
    """
    if n_bytes <= max_bytes:
        return max_sentences
    return max(1, min(max_sentences, n_lines * max_bytes // n_bytes))


def pick_lines(lines: Iterable[bytes], n: int, k: int, seed: int) -> Iterator[bytes]:
    """A seeded uniform sample of `k` of the `n` items of `lines`, in their order.

    Selection sampling (Knuth's Algorithm S): item i is taken with probability (still needed) /
    (still left), so exactly min(k, n) come out, memory is O(1) and the same input and seed give the
    same sample in every process. Written here because sentencepiece's reservoir (0.2.3) is not
    reproducible: set_random_generator_seed does not reach it, each process drew another sample.

    >>> list(pick_lines("abcde", 5, 9, seed=0))
    ['a', 'b', 'c', 'd', 'e']
    >>> len(list(pick_lines(range(1000), 1000, 10, seed=0)))
    10
    """
    rng = random.Random(seed)
    need = k
    for left, line in zip(range(n, 0, -1), lines):
        if need <= 0:
            return
        if rng.random() * left < need:
            need -= 1
            yield line


def release_freed_memory() -> None:
    """Hand heap memory that native code has freed back to the OS (glibc's malloc_trim; a no-op
    where there is no glibc). sentencepiece's trainer frees what it held when it returns (about
    3 bytes per byte of text it trained on), but glibc keeps those pages in its heap, so the
    process's RSS stays up through the palette and codebook fits that follow (measured at 32x the
    demo corpus: 62 MiB kept without this call, 6 MiB with it)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): nothing to trim this way
        return
    libc.malloc_trim(0)


def train_bpe(lines_file: Path, prefix: Path, *, vocab_size: int, markers: Iterable[str], seed: int = 0,
              input_sentence_size: int = 2_000_000, character_coverage: float = 0.9995,
              threads: int | None = None) -> spm.SentencePieceProcessor:
    """Train `prefix.model` from one line of text per line of `lines_file`.

    The marker symbols and the 256 byte pieces come first; `vocab_size` counts them. Returns the
    loaded model (its GetPieceSize() may be below `vocab_size` on a small corpus).

    The lines are streamed to sentencepiece from the open file (`sentence_iterator`) and the model
    comes back as bytes (`model_writer`), not through `input=` / `model_prefix=`: sentencepiece
    records those two paths in the model's trainer_spec, so the same text trained in another folder
    gave another .model and another vocabulary fingerprint. The file is read in binary and split at
    "\n" only, as sentencepiece's own file reader does, so the pieces are the ones `input=` gave
    (one difference: the binding drops a "\r" at the end of a line, which the file reader kept;
    the extract stage leaves no "\r" in text, extractors/text.py `normalize_text`).
    """
    markers = list(markers)
    floor = N_SPECIAL + 256 + len(markers) + 1
    if vocab_size < floor:
        raise ValueError(f"tokenizer.vocab_size={vocab_size} is below the {floor} pieces that byte fallback and "
                         f"the markers take; use at least {floor}")
    model = io.BytesIO()
    spm.set_random_generator_seed(seed)
    with open(lines_file, "rb") as f:
        n_lines = sum(1 for _ in f)
    with open(lines_file, "rb") as f:
        # past the line cap sentencepiece gets a seeded sample of input_sentence_size lines, and samples none
        lines = pick_lines(f, n_lines, input_sentence_size, seed) if n_lines > input_sentence_size else f
        spm.SentencePieceTrainer.train(
            sentence_iterator=lines, model_writer=model, model_type="bpe", vocab_size=vocab_size,
            hard_vocab_limit=False, byte_fallback=True, user_defined_symbols=markers,
            normalization_rule_name="identity", add_dummy_prefix=False, remove_extra_whitespaces=False,
            split_digits=True, allow_whitespace_only_pieces=True, character_coverage=character_coverage,
            input_sentence_size=input_sentence_size, shuffle_input_sentence=True, required_chars=NEWLINE,
            max_sentence_length=MAX_SENTENCE_BYTES + 64, num_threads=threads or os.cpu_count() or 1,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2,
        )
    release_freed_memory()
    data = machine_free(model.getvalue())
    path = Path(f"{prefix}.model")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return spm.SentencePieceProcessor(model_proto=data)


def machine_free(model: bytes) -> bytes:
    """The serialized model without what only says where it was trained: sentencepiece records its
    `num_threads` in the trainer_spec (the CPU count by default), so the same text trained on a
    machine with another core count gave another .model and vocabulary fingerprint. No piece and no
    setting that encoding reads depends on it (protobuf, sentencepiece's own model schema)."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model)
    proto.trainer_spec.ClearField("num_threads")
    return proto.SerializeToString()


class TextCodec(Codec):
    """Text <-> BPE ids; what lies outside every bracket of a parsed document."""

    kind = Kind.TEXT
    part = "text"

    def train(self, samples: Samples, folder: Path) -> dict:
        cfg = samples.cfg
        if samples.text_bytes == 0:
            samples.lines.write(FALLBACK_TEXT)
        samples.lines.close()
        sentences = sentences_for(cfg.sample_sentences, cfg.sample_bytes, samples.text_lines, samples.text_bytes)
        try:
            sp = train_bpe(samples.lines_path, folder / "bpe", vocab_size=cfg.vocab_size, markers=MARKERS,
                           seed=cfg.seed, input_sentence_size=sentences,
                           character_coverage=cfg.character_coverage, threads=cfg.threads)
        finally:
            samples.lines_path.unlink(missing_ok=True)
        (folder / "bpe.vocab").unlink(missing_ok=True)  # a human-readable copy; the .model has it all
        section = {"size": sp.GetPieceSize(), "requested_size": cfg.vocab_size, "model": FILES["text"],
                   "eos_id": sp.eos_id(), "byte_offset": sp.piece_to_id("<0x00>"), "normalization": "identity",
                   "newline": f"U+{ord(NEWLINE):04X}", "trained_on_bytes": samples.text_bytes, "seed": cfg.seed}
        if sentences < min(cfg.sample_sentences, samples.text_lines):  # the byte cap was hit: say so
            # (only then, so that below the cap vocab.json and its fingerprint are what they were)
            section.update(sampled_sentences=sentences, of_sentences=samples.text_lines, sample_bytes=cfg.sample_bytes)
        return section

    def load(self, folder: Path) -> spm.SentencePieceProcessor:
        return spm.SentencePieceProcessor(model_file=str(folder / FILES["text"]))

    def encode(self, doc: Document, enc: Encoder) -> list[int]:
        return enc.text(doc.text)

    def tokens(self, text: str, vocab: Vocab) -> list[int]:
        return encode_text(vocab.sp, text, vocab.byte_offset) if text else []

    def decode(self, seg: Segment, vocab: Vocab) -> str:
        return decode_text(vocab.sp, seg.ids, vocab.byte_offset)

    def show(self, seg: Segment, vocab: Vocab) -> str:
        return self.decode(seg, vocab)


class CaptionCodec(TextCodec):
    """A caption: text between its markers, before or after the image it describes (not a kind of
    record, so not in CODECS)."""

    open, close = "<|caption|>", "<|/caption|>"

    @property
    def name(self) -> str:
        return "caption"

    def show(self, seg: Segment, vocab: Vocab) -> str:
        return f"{self.open}{self.decode(seg, vocab)}{self.close}"


CAPTION = CaptionCodec()
