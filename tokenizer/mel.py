"""Log-mel analysis and Griffin-Lim synthesis in numpy.

Written by hand rather than taken from librosa because importing `librosa.feature` costs 2-14 s on
this kind of machine (numba), which every shard worker would pay; the maths is short. It matches
librosa's defaults (Slaney mel scale and area normalisation, periodic Hann window, centred frames
with zero padding), and a test checks it against librosa.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_part = f >= 1000.0
    return np.where(log_part, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


@lru_cache(maxsize=8)
def mel_filters(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """float32 (n_mels, n_fft // 2 + 1) triangular filters, area-normalised (librosa's default)."""
    fft_hz = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)  # periodic Hann


def stft(wave: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """complex64 (frames, n_fft // 2 + 1), centred frames over a zero-padded signal."""
    padded = np.pad(np.asarray(wave, np.float32), n_fft // 2)
    n = 1 + max(0, len(padded) - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:n]  # (frames, n_fft) view
    return np.fft.rfft(frames * _window(n_fft), axis=1).astype(np.complex64)


def istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """Inverse of `stft` by weighted overlap-add: complex (frames, bins) -> float32 (length,)."""
    win = _window(n_fft)
    frames = np.fft.irfft(spec, n=n_fft, axis=1).astype(np.float32) * win  # (frames, n_fft)
    total = n_fft + hop * (len(frames) - 1)
    out = np.zeros(total, np.float32)
    norm = np.zeros(total, np.float32)
    for i, frame in enumerate(frames):
        out[i * hop:i * hop + n_fft] += frame
        norm[i * hop:i * hop + n_fft] += win * win
    out /= np.where(norm > 1e-8, norm, 1.0)
    out = out[n_fft // 2:n_fft // 2 + length]
    return np.pad(out, (0, length - len(out)))  # the last frame's centre lies past the signal's end


def mel_power(wave: np.ndarray, sr: int, n_fft: int, hop: int, n_mels: int) -> np.ndarray:
    """float32 (frames, n_mels) mel power spectrogram."""
    power = np.abs(stft(wave, n_fft, hop)) ** 2  # (frames, bins)
    return power @ mel_filters(sr, n_fft, n_mels).T


def griffin_lim(mel: np.ndarray, sr: int, n_fft: int, hop: int, n_iter: int = 32, seed: int = 0) -> np.ndarray:
    """float (frames, n_mels) mel power -> float32 (frames * hop,) samples.

    The linear magnitude comes from the mel power by non-negative least squares done cheaply
    (pseudo-inverse, clipped at 0); the phase by Griffin-Lim with momentum 0.99 (librosa's "fast").
    """
    filters = mel_filters(sr, n_fft, mel.shape[1])
    power = np.maximum(mel @ np.linalg.pinv(filters).T, 0.0)  # (frames, bins)
    mag = np.sqrt(power).astype(np.float32)
    length = hop * len(mel)
    rng = np.random.default_rng(seed)
    angles = np.exp(2j * np.pi * rng.random(mag.shape)).astype(np.complex64)
    prev = np.zeros_like(angles)
    wave = istft(mag * angles, n_fft, hop, length)
    for _ in range(n_iter):
        rebuilt = stft(wave, n_fft, hop)[: len(mag)]
        rebuilt = np.pad(rebuilt, ((0, len(mag) - len(rebuilt)), (0, 0)))
        angles = rebuilt - 0.99 / 1.99 * prev
        prev = rebuilt
        angles /= np.abs(angles) + 1e-16
        wave = istft(mag * angles, n_fft, hop, length)
    return wave
