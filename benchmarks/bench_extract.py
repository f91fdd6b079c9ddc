"""Extraction overhead against the raw library loop, on the same files in the same run.

    python benchmarks/bench_extract.py [--repeats 3] [--pdfs 12] [--epubs 12] [--images 120]

Raw loops (the peer, doing the least work that reads the content):
  PDF   pymupdf.open + page.get_text() per page
  EPUB  ebooklib.read_epub + get_content() of every document item
  image PIL.Image.open + convert("RGB")
Ours: the extract stage's path for one rank, `Isolated.extract(doc)` (a worker subprocess under the
time and memory limits, pickled through a pipe), which also places images, normalises and
re-encodes them, and writes facts. Prints medians of the repeats, throughput per core and the
ratio ours / raw (the issue's target: <= 1.3).
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import tempfile
import time
from pathlib import Path

WORDS = ("river delta harbour granite festival library railway volcanic glass bronze printing press century "
         "northern market cathedral salt mining orchard bridge canal textile mill lighthouse").split()


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."


def photo(rng: random.Random, w: int, h: int, fmt: str) -> bytes:
    """A photo-like image: smooth gradients plus noise (so codecs do real work)."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 // w), (y * 255 // h), ((x + y) * 127 // (w + h))], axis=-1)
    noise = np.random.default_rng(rng.randrange(1 << 30)).integers(0, 40, (h, w, 3))
    im = Image.fromarray(np.clip(base + noise, 0, 255).astype("uint8"))
    buf = io.BytesIO()
    im.save(buf, format=fmt, **({"quality": 88} if fmt == "JPEG" else {}))
    return buf.getvalue()


def make_pdf(rng: random.Random, pages: int) -> bytes:
    import pymupdf

    d = pymupdf.open()
    img = photo(rng, 320, 240, "JPEG")
    for i in range(pages):
        p = d.new_page()
        text = " ".join(sentence(rng) for _ in range(40))
        p.insert_textbox(pymupdf.Rect(50, 50, 545, 420), text, fontsize=9)
        if i % 3 == 0:
            p.insert_image(pymupdf.Rect(50, 440, 290, 620), stream=img)
        p.insert_textbox(pymupdf.Rect(50, 630, 545, 800), " ".join(sentence(rng) for _ in range(12)), fontsize=9)
    return d.tobytes()


def make_epub(rng: random.Random, chapters: int, tmp: Path) -> bytes:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier(str(rng.random()))
    book.set_title("Bench")
    book.add_item(epub.EpubItem(uid="fig", file_name="fig.jpg", media_type="image/jpeg", content=photo(rng, 320, 240, "JPEG")))
    spine = []
    for c in range(chapters):
        ch = epub.EpubHtml(title=f"c{c}", file_name=f"c{c}.xhtml")
        paras = "".join(f"<p>{' '.join(sentence(rng) for _ in range(6))}</p>" for _ in range(30))
        ch.content = f"<html><body><h1>Chapter {c}</h1>{paras}<figure><img src='fig.jpg' alt='x'/></figure></body></html>"
        book.add_item(ch)
        spine.append(ch)
    book.add_item(epub.EpubNav())
    book.spine = spine
    path = tmp / "b.epub"
    epub.write_epub(str(path), book)
    return path.read_bytes()


def raw_pdf(files: list[bytes]) -> int:
    import pymupdf

    pages = 0
    for data in files:
        with pymupdf.open(stream=data, filetype="pdf") as d:
            for page in d:
                page.get_text()
                pages += 1
    return pages


def raw_epub(files: list[bytes]) -> int:
    from ebooklib import ITEM_DOCUMENT, epub

    for data in files:
        book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
        for item in book.get_items_of_type(ITEM_DOCUMENT):
            item.get_content()
    return len(files)


def raw_image(files: list[bytes]) -> int:
    from PIL import Image

    for data in files:
        Image.open(io.BytesIO(data)).convert("RGB")
    return len(files)


def ours(runner, files: list[bytes]) -> int:
    from thresher.records import new_document, new_media

    for i, data in enumerate(files):
        doc = new_document(id=str(i), kind="blob", source="bench", uri=f"f{i}", media=[new_media("blob", data=data)])
        runner.extract(doc)
    return len(files)


def timed(fn, *args) -> tuple[float, int]:
    t = time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - t, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pdfs", type=int, default=12)
    ap.add_argument("--pages", type=int, default=12)
    ap.add_argument("--epubs", type=int, default=12)
    ap.add_argument("--images", type=int, default=120)
    args = ap.parse_args()
    from thresher.config import ExtractConfig
    from thresher.extractors.isolate import InProcess, Isolated

    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        sets = {
            "pdf": [make_pdf(rng, args.pages) for _ in range(args.pdfs)],
            "epub": [make_epub(rng, 10, Path(tmp)) for _ in range(args.epubs)],
            "image": [photo(rng, rng.choice((800, 1280, 1600)), rng.choice((600, 960, 1200)), rng.choice(("JPEG", "PNG")))
                      for _ in range(args.images)],
        }
    raw = {"pdf": raw_pdf, "epub": raw_epub, "image": raw_image}
    unit = {"pdf": "pages", "epub": "books", "image": "images"}
    runner, inproc = Isolated(ExtractConfig()), InProcess(ExtractConfig())
    try:
        ours(runner, sets["image"][:1])  # start the worker outside the timings (once per rank in a run)
        ours(inproc, sets["image"][:1])
        print(f"{'kind':6} {'raw s':>7} {'inproc s':>8} {'ours s':>7} {'raw/s':>7} {'ours/s':>7} {'ours/raw':>8} "
              f"{'isolation':>9}   (medians of {args.repeats}; isolation = ours / in-process)")
        for kind, files in sets.items():
            t_raw, t_in, t_ours = [], [], []
            for _ in range(args.repeats):
                dt, n = timed(raw[kind], files)
                t_raw.append(dt)
                t_in.append(timed(ours, inproc, files)[0])
                t_ours.append(timed(ours, runner, files)[0])
            r, i, o = statistics.median(t_raw), statistics.median(t_in), statistics.median(t_ours)
            print(f"{kind:6} {r:7.3f} {i:8.3f} {o:7.3f} {n / r:7.1f} {n / o:7.1f} {o / r:8.2f} {o / i:9.2f}   "
                  f"{unit[kind]}/s per core, {n} {unit[kind]}")
    finally:
        runner.close()


if __name__ == "__main__":
    main()
