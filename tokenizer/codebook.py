"""The audio range: a codebook of K log-mel frames (k-means), 25 frames per second of 16 kHz mono.

Audio -> mono 16 kHz (soxr resampling when needed) -> mel power spectrogram (80 bins, FFT 1024,
hop 640 samples = 40 ms, so 25 frames/s) -> log10 (floor 1e-5 ~ -100 dB) -> each frame replaced by
its nearest codeword. Decoding turns the codewords back into a mel spectrogram and a waveform by
Griffin-Lim (thresher.tokenizer.mel): phase is lost, so what comes back is recognisable, not
faithful; the measured error is the log-mel distance, which is what the model sees.

k-means needs at least K frames; with fewer (a tiny corpus) the codebook keeps every distinct frame
and fills the rest with copies of the quietest one (silence), recording how many were learned.

    <|audio|> codebook codes at 25/s <|/audio|>
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from thresher.tokenizer import mel
from thresher.tokenizer.codec import Codec, Segment
from thresher.tokenizer.layout import FILES

from thresher import media
from thresher.errors import RecordError
from thresher.records import Kind, media_bytes

if TYPE_CHECKING:
    from datatrove.data import Media
    from thresher.tokenizer.train import Samples
    from thresher.tokenizer.vocab import Vocab

SAMPLE_RATE = media.SAMPLE_RATE  # 16 kHz
N_FFT = 1024
N_MELS = 80
LOG_FLOOR = 1e-5  # power floor before log10: -50 in log10 units, i.e. -100 dB


def hop(frames_per_s: int) -> int:
    return SAMPLE_RATE // frames_per_s


# read this much past the cut, so that resampling sees real signal beyond it and the samples before
# the cut do not depend on where the file was cut (soxr's filter spans milliseconds)
LOOKAHEAD_S = 1.0


def load_audio(data: bytes, max_seconds: float, reason: str = "undecodable_audio") -> np.ndarray:
    """Audio file bytes -> float32 (n,) mono at 16 kHz, cut at `max_seconds` (RecordError(`reason`)
    when it does not decode)."""
    wave, _ = media.read_audio(data, max_seconds=max_seconds + LOOKAHEAD_S, sample_rate=SAMPLE_RATE, reason=reason)
    return wave[: int(max_seconds * SAMPLE_RATE)]


def log_mel(wave: np.ndarray, frames_per_s: int) -> np.ndarray:
    """float32 (n,) samples -> float32 (frames, N_MELS) log10 mel power."""
    power = mel.mel_power(wave, SAMPLE_RATE, N_FFT, hop(frames_per_s), N_MELS)
    return np.log10(np.maximum(power, LOG_FLOOR)).astype(np.float32)


def more_distinct_than(parts: list[np.ndarray], k: int) -> bool:
    """Whether the rows of `parts` (each (n, d), one dtype) hold more than k distinct rows, reading
    them until the (k+1)-th distinct one: on a real corpus about k rows, where np.unique(axis=0)
    copies and sorts the whole sample (at 32x the demo corpus that was its peak, +20 MiB). Rows are
    compared by their bytes, which is float equality here (log10 of a floored power: no NaN, no -0.0).

    >>> a = np.zeros((5, 2), np.float32); more_distinct_than([a], 1), more_distinct_than([a, a + 1], 1)
    (False, True)
    """
    seen: set[bytes] = set()
    for rows in parts:
        rows = np.ascontiguousarray(rows)
        for start in range(0, len(rows), 4096):  # bytes objects a block at a time, not all at once
            seen.update(rows[start:start + 4096].view(np.dtype((np.void, rows.itemsize * rows.shape[1]))).ravel().tolist())
            if len(seen) > k:
                return True
    return False


def train_codebook(frames: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, int]:
    """k-means over log-mel frames: float32 (n, N_MELS) -> (float32 (k, N_MELS) codewords, learned)."""
    frames = np.asarray(frames, np.float32).reshape(-1, N_MELS)
    silence = np.full((1, N_MELS), np.log10(LOG_FLOOR), np.float32)
    if not more_distinct_than([frames, silence], k):
        distinct = np.unique(np.concatenate([frames, silence]), axis=0)
        fill = np.repeat(silence, k - len(distinct), axis=0)
        return np.concatenate([distinct, fill]), len(distinct)
    from sklearn.cluster import MiniBatchKMeans
    from threadpoolctl import threadpool_limits

    # bounded whatever the corpus: the frames are a capped reservoir (frame_samples), the k-means++
    # start looks at init_size frames only, and early stopping ends the mini-batch steps (~30-50 of
    # 4096 frames at 8x-32x the demo corpus); labels_ for every frame is never used (compute_labels
    # off saves one pass over all frames, same centres)
    km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=1, batch_size=4096, max_iter=50,
                         init_size=3 * max(4096, k), compute_labels=False)
    # BLAS threads inside scikit-learn's own threads oversubscribe the cores (measured: 37-52 s
    # instead of 12-13 s at 32x the demo corpus); one BLAS thread each
    with threadpool_limits(limits=1, user_api="blas"):
        km.fit(np.concatenate([frames, silence]))
    return km.cluster_centers_.astype(np.float32), k


def quantize(frames: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """float32 (t, N_MELS) -> int64 (t,) nearest codewords (Euclidean)."""
    d = (codebook * codebook).sum(1)[None, :] - 2 * frames @ codebook.T  # (t, k)
    return d.argmin(1)


def to_wave(codes: np.ndarray, codebook: np.ndarray, frames_per_s: int, n_iter: int = 32) -> np.ndarray:
    """int (t,) codes -> float32 (t * hop,) samples at 16 kHz by Griffin-Lim."""
    power = np.power(10.0, codebook[np.asarray(codes, np.int64)])  # (t, N_MELS)
    wave = mel.griffin_lim(power, SAMPLE_RATE, N_FFT, hop(frames_per_s), n_iter=n_iter)
    peak = float(np.abs(wave).max()) if len(wave) else 0.0
    return (wave / peak * 0.9 if peak > 1.0 else wave).astype(np.float32)


class AudioCodec(Codec):
    kind = Kind.AUDIO
    part = "audio"
    open, close = "<|audio|>", "<|/audio|>"

    def observe(self, m: Media, samples: Samples) -> None:
        cfg = samples.cfg
        samples.frames.add(log_mel(load_audio(media_bytes(m), cfg.audio_max_seconds), cfg.audio_frames_per_s))

    def train(self, samples: Samples, folder: Path) -> dict:
        cfg = samples.cfg
        frames = samples.frames.sample()
        book, learned = train_codebook(frames, cfg.codebook_size, cfg.seed)
        np.save(folder / FILES["audio"], book)
        return {"size": cfg.codebook_size, "file": FILES["audio"], "sample_rate": SAMPLE_RATE,
                "frames_per_s": cfg.audio_frames_per_s, "n_mels": N_MELS, "n_fft": N_FFT,
                "max_seconds": cfg.audio_max_seconds, "learned_codes": learned, "trained_on_frames": int(len(frames)),
                "frames_seen": samples.frames.seen}

    def load(self, folder: Path) -> np.ndarray:
        return np.load(folder / FILES["audio"])

    def tokens(self, data: bytes, vocab: Vocab) -> list[int]:
        lay = vocab.layout["audio"]
        fps = lay["frames_per_s"]
        wave = load_audio(data, lay["max_seconds"])
        if len(wave) < hop(fps):
            raise RecordError("empty_audio", f"{len(wave)} samples, less than one {1000 // fps} ms frame")
        codes = quantize(log_mel(wave, fps), vocab.codebook)  # (t,)
        return [vocab.marker(self.open), *(codes + vocab.offset("audio")).tolist(), vocab.marker(self.close)]

    def decode(self, seg: Segment, vocab: Vocab) -> np.ndarray:
        """-> float32 samples at 16 kHz (Griffin-Lim)."""
        return to_wave(np.array(seg.ids, np.int64), vocab.codebook, vocab.layout["audio"]["frames_per_s"])

    def write(self, seg: Segment, vocab: Vocab, path: Path) -> Path:
        import soundfile as sf

        path = path.with_suffix(".wav")
        sf.write(path, self.decode(seg, vocab), SAMPLE_RATE)
        return path
