"""Records of every kind, made in the test: text, PDF/EPUB text, images, GIFs, audio, MIDI, blobs."""

from __future__ import annotations

import io
import math

import mido
import numpy as np
import pytest
import soundfile as sf
from PIL import Image, ImageDraw, ImageEnhance

from thresher.records import Kind, make_id, new_document, new_media


def picture(color=(200, 30, 30), bg=(240, 240, 240), size=(96, 96), shape="ellipse") -> Image.Image:
    im = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(im)
    w, h = size
    box = (w // 5, h // 4, 4 * w // 5, 3 * h // 4)
    getattr(draw, shape)(box, fill=color)
    draw.line((0, 0, w, h // 2), fill=(20, 20, 20), width=3)
    return im


def encode(im: Image.Image, fmt: str) -> bytes:
    bio = io.BytesIO()
    im.save(bio, format=fmt)
    return bio.getvalue()


def gif(frames: list[Image.Image]) -> bytes:
    bio = io.BytesIO()
    frames[0].save(bio, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return bio.getvalue()


def tone(freq: float, fmt: str, seconds: float = 0.5, rate: int = 16000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    pcm = (0.3 * np.sin(2 * math.pi * freq * t) * 32767).astype(np.int16)
    bio = io.BytesIO()
    sf.write(bio, pcm, rate, format=fmt, subtype="PCM_16")
    return bio.getvalue()


def melody(pitches: list[int], transpose: int = 0, tracks: int = 1, tpb: int = 480) -> bytes:
    mid = mido.MidiFile(ticks_per_beat=tpb)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for p in pitches:
        track.append(mido.Message("note_on", note=p + transpose, velocity=80, time=0))
        track.append(mido.Message("note_off", note=p + transpose, velocity=0, time=tpb // 2))
    for _ in range(tracks - 1):
        mid.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="empty", time=0)]))
    bio = io.BytesIO()
    mid.save(file=bio)
    return bio.getvalue()


def record(kind: Kind, uri: str, *, text: str = "", data: bytes | None = None, source: str = "test", **cols):
    media = [] if data is None and kind in (Kind.TEXT,) else [new_media(kind, data=data)]
    if kind in (Kind.PDF, Kind.EPUB) and data is None:
        media = []
    return new_document(id=make_id(source, uri, text.encode() + (data or b"")), kind=kind, source=source, uri=uri,
                        text=text, media=media, **cols)


@pytest.fixture(scope="session")
def prose() -> list[str]:
    """Long texts of random words: any two share almost no 5-gram."""
    rng = np.random.default_rng(7)
    vocab = np.array(["".join(rng.choice(list("abcdefghijklmnoprstuvwy"), rng.integers(2, 9))) for _ in range(4000)])
    return [" ".join(rng.choice(vocab, 400)) for _ in range(12)]


def edit(text: str, rate: float, seed: int) -> str:
    rng = np.random.default_rng(seed)
    words = text.split()
    for i in rng.choice(len(words), int(rate * len(words)), replace=False):
        words[i] = "zz" + words[i]
    return " ".join(words)


def near_image(im: Image.Image) -> Image.Image:
    small = im.resize((round(im.width * 0.95), round(im.height * 0.95)), Image.Resampling.BILINEAR)
    return ImageEnhance.Brightness(small).enhance(1.08)
