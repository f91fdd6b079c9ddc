"""Training the vocabulary: gather seeded samples from the records, fit each kind's model, write vocab.json.

`Samples.add(doc)` streams: the codec of the record's kind (tokenizer/codecs.py) says what it
teaches. Text goes line by line to a file (sentencepiece samples and shuffles it itself), image
pixels and audio frames go to bounded seeded reservoirs, so memory stays flat however large the
corpus. `train_vocab` then asks every codec to fit and save its model (BPE, palette, codebook; MIDI
and blobs learn nothing) and writes vocab.json last. A record whose media cannot be decoded is
skipped here and counted; the shard stage, which must encode it, records the error on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from datatrove.data import Document
from thresher.tokenizer import bpe, codebook
from thresher.tokenizer.codecs import CODECS
from thresher.tokenizer.config import TokenizerConfig
from thresher.tokenizer.layout import MARKERS, RANGES
from thresher.tokenizer.vocab import save_vocab

from thresher.records import Kind


class Reservoir:
    """Keep at most `cap` rows of what is added, a seeded uniform sample of everything seen.

    Rows are added in blocks; when twice the cap is held, a seeded random half is kept (a
    reservoir by halving: every row seen has the same chance to stay, and the same input in the
    same order always gives the same sample).
    """

    def __init__(self, cap: int, width: int, dtype, seed: int):
        self.cap, self.width, self.dtype = cap, width, dtype
        self.rng = np.random.default_rng(seed)
        self.blocks: list[np.ndarray] = []
        self.held = self.seen = 0
        self.keep = 1.0  # probability that a new row enters

    def add(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, self.dtype).reshape(-1, self.width)
        self.seen += len(rows)
        if self.keep < 1.0:
            rows = rows[self.rng.random(len(rows)) < self.keep]
        self.blocks.append(rows)
        self.held += len(rows)
        while self.held > 2 * self.cap:
            allrows = np.concatenate(self.blocks)
            allrows = allrows[self.rng.random(len(allrows)) < 0.5]
            self.blocks, self.held, self.keep = [allrows], len(allrows), self.keep / 2

    def sample(self) -> np.ndarray:
        """At most `cap` rows. The reservoir then holds just them (its blocks are let go, so the
        sample is not held twice while a model is fitted on it); asking again gives the same rows."""
        rows = np.concatenate(self.blocks) if self.blocks else np.zeros((0, self.width), self.dtype)
        self.blocks = []
        if len(rows) > self.cap:
            rows = rows[np.sort(self.rng.choice(len(rows), self.cap, replace=False))]
        self.blocks, self.held = [rows], len(rows)
        return rows


class Samples:
    """What the records teach: text lines in a file, pixel and frame reservoirs, skipped media."""

    def __init__(self, cfg: TokenizerConfig, folder: Path):
        self.cfg = cfg
        self.lines_path = folder / "_text_sample.txt.tmp"
        self.lines = open(self.lines_path, "w", encoding="utf-8")
        self.text_bytes = self.text_lines = 0
        self.pixels = Reservoir(cfg.pixel_samples, 3, np.uint8, cfg.seed)  # RGB
        self.frames = Reservoir(cfg.frame_samples, codebook.N_MELS, np.float32, cfg.seed + 1)  # log-mel
        self.rng = np.random.default_rng(cfg.seed + 2)  # which pixels of an image go to the reservoir
        self.skipped: dict[str, int] = {}  # "image:UnidentifiedImageError" -> count

    def text(self, text: str) -> None:
        for line in bpe.sample_lines(text):
            if line.strip():
                self.lines.write(line + "\n")
                self.text_bytes += len(line.encode("utf-8"))
                self.text_lines += 1

    def add(self, doc: Document) -> None:
        # a record of a kind without a codec teaches its text, captions and media as a text record does
        kind = doc.metadata.get("kind", "text")
        (CODECS.get(kind) or CODECS[Kind.TEXT]).sample(doc, self)


def train_vocab(samples: Samples, folder: Path) -> dict:
    """Fit every kind's model from `samples`; write the models and vocab.json into `folder`."""
    layout: dict = {}
    offset = 0
    for codec in CODECS.values():
        section = codec.train(samples, folder)
        if section is None:
            continue
        if "size" in section:  # a range of ids, after the one before
            section = {"offset": offset, **section}
            offset += section["size"]
        layout[codec.name] = section
    assert [p for p in layout if "size" in layout[p]] == list(RANGES), "the ranges must follow the layout's order"
    sp = CODECS[Kind.TEXT].load(folder)
    layout.update(vocab_size=offset, markers={m: sp.piece_to_id(m) for m in MARKERS}, skipped_media=samples.skipped)
    assert layout["markers"]["<|image|>"] != 0, "markers must be user-defined pieces, not <unk>"
    return save_vocab(folder, layout)
