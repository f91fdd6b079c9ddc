"""The tokenizer stage's settings (the vocabulary models) and the shard stage's (packed shards)."""

from __future__ import annotations

from pydantic import Field

from thresher.config import Strict


class TokenizerConfig(Strict):
    """The vocabulary models (thresher.tokenizer): BPE, image palette, audio codebook, MIDI events."""

    vocab_size: int = Field(32000, ge=300, le=1_000_000)  # text range: specials + markers + 256 bytes + merges
    sample_sentences: int = Field(2_000_000, ge=1000)  # sentencepiece input_sentence_size (seeded sample)
    # and at most about this many UTF-8 bytes of text go to sentencepiece: a line is a whole document
    # (up to 4 KB), so the line cap alone lets GBs through, and sentencepiece holds ~3 bytes of memory
    # per byte it trains on; 256 MB is far past where a 32k BPE stops gaining, and the demo corpus at
    # 32x (20 MB of text) is under it. Hit: fewer lines are sampled (by sentencepiece, seeded).
    sample_bytes: int = Field(256_000_000, ge=100_000)
    character_coverage: float = Field(0.9995, gt=0, le=1)  # rarer characters fall back to bytes
    seed: int = 0
    threads: int | None = Field(None, ge=1)  # sentencepiece training threads; default: CPU count
    palette_size: int = Field(512, ge=8, le=4096)  # image colours (k-means over RGB pixels)
    image_side: int = Field(32, ge=4, le=256)  # an image is image_side x image_side palette codes
    gif_side: int = Field(16, ge=4, le=128)
    gif_max_frames: int = Field(8, ge=1, le=64)
    pixel_samples: int = Field(200_000, ge=1000)  # pixels kept for k-means
    codebook_size: int = Field(1024, ge=8, le=16384)  # audio codes (k-means over log-mel frames)
    audio_frames_per_s: int = Field(25, ge=1, le=200)
    audio_max_seconds: float = Field(30.0, gt=0)  # longer audio is cut
    frame_samples: int = Field(200_000, ge=1000)  # log-mel frames kept for k-means
    midi_max_events: int = Field(4096, ge=16)  # longer pieces are cut at a whole event
    blob_max_bytes: int = Field(256, ge=1)  # a blob is its mime type and its first bytes


class ShardConfig(Strict):
    """Packed Megatron shards (thresher.tokenizer.shards)."""

    val_fraction: float = Field(0.01, ge=0, lt=1)  # documents to the val split (seeded, by id)
    seed: int = 0
    max_tokens_per_file: int = Field(2**28, ge=1024)  # a rank starts a new .bin/.idx pair past this
    caption_first: float = Field(0.5, ge=0, le=1)  # share of captioned images with the caption before
