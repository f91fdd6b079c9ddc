"""The unified vocabulary: one id space for text, image, audio and MIDI tokens (DESIGN.md).

    ids [0, T)            sentencepiece BPE: <unk> <s> </s>, the markers, <0x00>..<0xFF>, pieces
    ids [T, T+512)        image palette codes
    ids [.., +1024)       audio codebook codes
    ids [.., +517)        MIDI events (thresher.tokenizer.midi_events)

`vocab.json` (written last by the tokenizer stage, so its presence means complete) records every
range's offset and size, the marker ids, the model files and a fingerprint: a hash of the layout and
of every model file's bytes. `load_vocab` checks the format version and recomputes the fingerprint,
so a model file changed after training, or shards encoded with another vocabulary, are refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from thresher.errors import ThresherError

FORMAT = "thresher-vocab"
FORMAT_VERSION = 1
MARKERS = ("<|image|>", "<|/image|>", "<|gif|>", "<|frame|>", "<|/gif|>", "<|audio|>", "<|/audio|>", "<|midi|>",
           "<|/midi|>", "<|blob|>", "<|/blob|>", "<|caption|>", "<|/caption|>", "<|thought|>", "<|/thought|>")
FILES = {"text": "bpe.model", "image": "palette.npy", "audio": "codebook.npy"}
REDO = "re-run the tokenizer stage (`thresher tokenizer CONFIG --force`)"


class VocabError(ThresherError):
    """A vocabulary folder that is missing, from another format version, or changed since training."""


def _file_hash(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def fingerprint(layout: dict[str, Any], folder: Path) -> str:
    """blake2b-128 of the layout (without its fingerprint) and of every model file's bytes."""
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps({k: v for k, v in layout.items() if k != "fingerprint"}, sort_keys=True).encode())
    for name in sorted(FILES.values()):
        h.update(name.encode() + b"\0" + _file_hash(folder / name).encode())
    return h.hexdigest()


def save_vocab(folder: Path, layout: dict[str, Any]) -> dict[str, Any]:
    """Write vocab.json (atomically, last) with the fingerprint of `layout` and the model files."""
    layout = {"format": FORMAT, "format_version": FORMAT_VERSION, **layout}
    layout["fingerprint"] = fingerprint(layout, folder)
    tmp = folder / "vocab.json.tmp"
    tmp.write_text(json.dumps(layout, indent=1, sort_keys=True))
    tmp.replace(folder / "vocab.json")
    return layout


@dataclass
class Vocab:
    """A loaded vocabulary: the layout and the three models."""

    folder: Path
    layout: dict[str, Any]
    sp: Any  # sentencepiece.SentencePieceProcessor
    palette: np.ndarray  # uint8 (512, 3)
    codebook: np.ndarray  # float32 (1024, 80) log10 mel

    @property
    def fingerprint(self) -> str:
        return self.layout["fingerprint"]

    @property
    def size(self) -> int:
        return self.layout["vocab_size"]

    def offset(self, part: str) -> int:
        return self.layout[part]["offset"]

    def marker(self, name: str) -> int:
        return self.layout["markers"][name]

    @property
    def eos_id(self) -> int:
        return self.layout["text"]["eos_id"]

    @property
    def byte_offset(self) -> int:
        """Id of <0x00>; byte b is byte_offset + b."""
        return self.layout["text"]["byte_offset"]

    def part_of(self, token: int) -> str:
        """Which range a token id falls in: text, image, audio or midi."""
        for part in ("midi", "audio", "image"):
            if token >= self.offset(part):
                if token >= self.offset(part) + self.layout[part]["size"]:
                    raise ValueError(f"token {token} is beyond the vocabulary of {self.size}")
                return part
        return "text"


def load_vocab(folder: str | Path, expect_fingerprint: str | None = None) -> Vocab:
    """Load WORKDIR/tokenizer, checking the format version and the fingerprint."""
    import sentencepiece as spm

    folder = Path(folder)
    path = folder / "vocab.json"
    if not path.is_file():
        raise VocabError(f"{path} not found: {REDO}")
    layout = json.loads(path.read_text())
    if layout.get("format") != FORMAT or layout.get("format_version") != FORMAT_VERSION:
        raise VocabError(f"{path}: format {layout.get('format')!r} version {layout.get('format_version')!r}, this "
                         f"thresher reads {FORMAT!r} version {FORMAT_VERSION}; {REDO}")
    for name in FILES.values():
        if not (folder / name).is_file():
            raise VocabError(f"{folder / name} is missing; {REDO}")
    actual = fingerprint(layout, folder)
    if actual != layout.get("fingerprint"):
        raise VocabError(f"{folder}: the model files do not match vocab.json's fingerprint (changed after training); {REDO}")
    if expect_fingerprint is not None and actual != expect_fingerprint:
        raise VocabError(f"{folder}: vocabulary {actual}, but {expect_fingerprint} was expected (the shards or checkpoint "
                         f"were made with another tokenizer)")
    sp = spm.SentencePieceProcessor(model_file=str(folder / FILES["text"]))
    return Vocab(folder, layout, sp, np.load(folder / FILES["image"]), np.load(folder / FILES["audio"]))
