"""Image-caption pairs from records, and the rows the captioner trains and scores on.

    image row   <|image|> c_1 .. c_{S*S} <|/image|> <|caption|> t_1 .. t_n <|/caption|>
    null row    <|image|> </s> .. </s>  <|/image|> <|caption|> t_1 .. t_n <|/caption|>

Only the caption tokens t_1 .. t_n and the closing <|/caption|> are targets; the image codes are
context. Null rows (the image blanked, as in classifier-free guidance) train the same model as its
own text-only baseline, through the same positions and layers as the image rows, so the PMI score
needs one model, not two, and an odd string the model never saw ("image1.jpg") is equally odd to
both terms. S is the captioner's own image
side (caption.image_side, 16 by default): smaller than the shards' so that training fits minutes of CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from datatrove.data import Document, Media

from thresher.train.model import IGNORE

IMAGE_KINDS = ("image", "gif")


@dataclass(frozen=True)
class Layout:
    """The token ids the captioner uses, read from the vocabulary."""

    image: int
    image_end: int
    caption: int
    caption_end: int
    pad: int  # fills rows to one length; never a target
    image_offset: int  # first palette code; text ids are below it
    side: int  # the captioner's image side (S): S*S codes per image
    vocab_size: int

    @classmethod
    def from_vocab(cls, vocab, side: int) -> "Layout":
        m = vocab.layout["markers"]
        return cls(image=m["<|image|>"], image_end=m["<|/image|>"], caption=m["<|caption|>"],
                   caption_end=m["<|/caption|>"], pad=vocab.eos_id, image_offset=vocab.offset("image"),
                   side=side, vocab_size=vocab.size)

    @property
    def prefix_len(self) -> int:
        """Tokens of an image row before the first caption token: <|image|> codes <|/image|> <|caption|>."""
        return self.side * self.side + 3

    def prompt(self, codes: np.ndarray) -> list[int]:
        return [self.image, *codes.tolist(), self.image_end, self.caption]


def clean_caption(text: str | None) -> str:
    """Collapse whitespace: '  a red\\n circle ' -> 'a red circle' ('' for None)."""
    return " ".join((text or "").split())


def image_media(doc: Document) -> Iterator[tuple[int, Media]]:
    """(index, media) of every image the stage captions: a standalone image or GIF (its one medium),
    or the images inside a PDF or EPUB. Audio and MIDI media keep their captions untouched."""
    kind = doc.metadata.get("kind")
    for i, m in enumerate(doc.media):
        mkind = m.metadata.get("kind") or kind
        if mkind in IMAGE_KINDS or (kind in IMAGE_KINDS and i == 0):
            yield i, m


def original_captions(m: Media) -> list[str]:
    """The captions a medium came with: its caption (sidecar, column, figcaption) and its alt text
    when that differs, so an EPUB figure offers both and the score picks."""
    out = []
    for text in (m.metadata.get("caption"), m.alt):
        text = clean_caption(text)
        if text and text not in out:
            out.append(text)
    return out


def pad_rows(rows: list[list[int]], starts: list[int], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Full rows -> inputs (B, T) and targets (B, T): row[:-1] and row[1:], with every target before
    `start` (the row index of the first caption token) and every padded slot set to IGNORE.

    >>> pad_rows([[7, 8, 9], [7, 9]], [2, 1], pad=0)
    (tensor([[7, 8], [7, 0]]), tensor([[-1, 9], [9, -1]]))
    """
    T = max(len(r) for r in rows) - 1
    x = torch.full((len(rows), T), pad, dtype=torch.long)
    y = torch.full((len(rows), T), IGNORE, dtype=torch.long)
    for b, (row, start) in enumerate(zip(rows, starts)):
        n = len(row) - 1
        x[b, :n] = torch.tensor(row[:-1])
        y[b, start - 1:n] = torch.tensor(row[start:])
    return x, y


def image_rows(lay: Layout, codes: list[np.ndarray], captions: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Image rows for (codes, caption tokens) pairs -> inputs, targets (B, T)."""
    rows = [lay.prompt(c) + cap + [lay.caption_end] for c, cap in zip(codes, captions)]
    return pad_rows(rows, [lay.prefix_len] * len(rows), lay.pad)


def null_codes(lay: Layout) -> np.ndarray:
    """The blanked image: S*S end-of-document ids, a token that never stands in an image."""
    return np.full(lay.side * lay.side, lay.pad, dtype=np.int64)
