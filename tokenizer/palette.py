"""The image range: a palette of K colours (k-means over RGB pixels, iGPT style) and S x S images.

An image becomes S*S palette codes in raster order: composited on white, resized to S x S (the aspect
ratio is not kept: the model sees the whole picture, squeezed), each pixel replaced by its nearest
palette colour. A GIF frame is the same at a smaller side. Decoding maps codes back to colours.

The palette is trained from pixels sampled from the corpus's images plus the 8 x 8 x 8 uniform RGB
grid (512 points), so k-means always has at least K points, and a corpus with few or no images still
gets a palette that covers the colour cube.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

GRID = np.stack(np.meshgrid(*(np.arange(16, 256, 32),) * 3, indexing="ij"), -1).reshape(-1, 3)  # (512, 3)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any mode -> RGB, transparency composited on white (so a transparent logo stays visible)."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        canvas = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, img).convert("RGB")
    return img.convert("RGB")


def open_image(data: bytes) -> Image.Image:
    """Decode image bytes fully (raises PIL's errors on broken input)."""
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def pixels(img: Image.Image, side: int) -> np.ndarray:
    """uint8 (side, side, 3): the image as the model sees it before quantisation."""
    return np.asarray(to_rgb(img).resize((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0), dtype=np.uint8)


def train_palette(samples: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means over RGB pixels: uint8 (n, 3) samples -> uint8 (k, 3) colours, sorted by luminance
    so that near codes are near colours (only cosmetic: the model does not rely on it)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    grid = GRID if k == len(GRID) else GRID[np.linspace(0, len(GRID) - 1, k).astype(int)]
    points = np.concatenate([np.asarray(samples, np.uint8).reshape(-1, 3), grid.astype(np.uint8)])
    # k-means over the distinct colours weighted by their counts: the same answer, far fewer points
    points, counts = np.unique(points, axis=0, return_counts=True)
    if len(points) <= k:
        colours = np.concatenate([points, grid[: k - len(points)]]).astype(np.float64)
    else:
        init = grid.astype(np.float32)
        km = (KMeans(n_clusters=k, init=init, n_init=1, max_iter=30, random_state=seed) if len(points) <= 50_000 else
              MiniBatchKMeans(n_clusters=k, init=init, n_init=1, batch_size=8192, max_iter=20, random_state=seed))
        km.fit(points.astype(np.float32), sample_weight=counts.astype(np.float32))
        colours = km.cluster_centers_
    colours = np.clip(np.rint(colours), 0, 255).astype(np.uint8)
    luma = colours.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return colours[np.argsort(luma, kind="stable")]


def quantize(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) pixels -> int64 (...) nearest palette codes (squared RGB distance)."""
    flat = rgb.reshape(-1, 3).astype(np.int32)
    pal = palette.astype(np.int32)
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is the same for every c
    d = (pal * pal).sum(1)[None, :] - 2 * flat @ pal.T  # (n, k)
    return d.argmin(1).reshape(rgb.shape[:-1])


def dequantize(codes: np.ndarray, palette: np.ndarray, side: int) -> np.ndarray:
    """int (side*side,) codes -> uint8 (side, side, 3) pixels."""
    return palette[np.asarray(codes, dtype=np.int64)].reshape(side, side, 3)
