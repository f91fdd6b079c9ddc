"""Fingerprints of every kind: what collapses exactly, what is near, and bad records."""

import numpy as np
from thresher.dedup.verify import Checks
from thresher.dedup.features import FAILED, GROUPS, Fingerprinter, Params
from thresher.dedup.images import color_distance, hamming
from thresher.dedup.minhash import estimate_jaccard

from thresher.records import Kind

from .conftest import edit, encode, gif, melody, near_image, picture, record, tone

P = Params(num_perm=112, seed=1, ngram=5, bands=14, rows=8, midi_ngram=4, image_max_distance=4, survivor="longest")


def _fp(docs):
    return Fingerprinter(P)(docs)


def test_text_exact_key_ignores_unicode_width_and_whitespace(prose):
    a = record(Kind.TEXT, "a", text=prose[0])
    b = record(Kind.TEXT, "b", text="  " + prose[0].replace(" ", " \n\t", 7) + "\n")
    c = record(Kind.TEXT, "c", text=prose[0].replace("a", "ａ"))  # fullwidth a -> a under NFKC
    d = record(Kind.TEXT, "d", text=prose[1])
    fp, errors = _fp([a, b, c, d])
    assert not errors
    assert fp.keys[0, 0] == fp.keys[1, 0] == fp.keys[2, 0] != fp.keys[3, 0]
    assert (fp.check[:3] == fp.check[0]).all()


def test_text_near_duplicates_share_bands_and_estimate_jaccard(prose):
    docs = [record(Kind.TEXT, "a", text=prose[0]), record(Kind.TEXT, "b", text=edit(prose[0], 0.01, 1)),
            record(Kind.TEXT, "c", text=prose[2])]
    fp, _ = _fp(docs)
    assert (fp.keys[0, 1:15] == fp.keys[1, 1:15]).any()
    assert estimate_jaccard(fp.sig[0], fp.sig[1]) > 0.8 > estimate_jaccard(fp.sig[0], fp.sig[2])
    assert not (fp.keys[0, 1:15] == fp.keys[2, 1:15]).any()


def test_pdf_and_epub_text_dedup_in_the_book_namespace(prose):
    pdf = record(Kind.PDF, "a.pdf", text=prose[3])
    epub = record(Kind.EPUB, "a.epub", text=prose[3])
    txt = record(Kind.TEXT, "a.txt", text=prose[3])
    fp, _ = _fp([pdf, epub, txt])
    assert fp.group.tolist() == [GROUPS["book"]] * 2 + [GROUPS["text"]]
    assert fp.keys[0, 0] == fp.keys[1, 0] != fp.keys[2, 0]


def test_images_exact_over_pixels_near_by_phash_and_colour():
    im = picture()
    png, bmp = record(Kind.IMAGE, "a.png", data=encode(im, "PNG")), record(Kind.IMAGE, "a.bmp", data=encode(im, "BMP"))
    near = record(Kind.IMAGE, "b.png", data=encode(near_image(im), "PNG"))
    other_colour = record(Kind.IMAGE, "c.png", data=encode(picture(color=(30, 30, 200), bg=(20, 120, 20)), "PNG"))
    other_shape = record(Kind.IMAGE, "d.png", data=encode(picture(shape="rectangle", size=(96, 64)), "PNG"))
    flat = record(Kind.IMAGE, "e.png", data=encode(picture(color=(9, 9, 9), bg=(9, 9, 9)).point(lambda v: 9), "PNG"))
    fp, errors = _fp([png, bmp, near, other_colour, other_shape, flat])
    assert not errors
    assert fp.keys[0, 0] == fp.keys[1, 0] and len(set(fp.keys[:5, 0].tolist())) == 4
    d = hamming(fp.phash[[0, 0, 0]], fp.phash[[2, 3, 4]])
    c = color_distance(fp.color[[0, 0, 0]], fp.color[[2, 3, 4]])
    ok = (d <= P.image_max_distance) & (c <= Checks(0.8, 0.8, 4).max_color_step)
    assert ok.tolist() == [True, False, False], (d, c)
    assert fp.phash[5] == 0 and (fp.keys[5, 1:] == 0).all()  # a flat picture gets no near-dup keys


def test_gif_exact_over_all_frames():
    frames = [picture(color=(200, 10 * k, 10)) for k in range(3)]
    a = record(Kind.GIF, "a.gif", data=gif(frames))
    b = record(Kind.GIF, "b.gif", data=gif(frames))
    c = record(Kind.GIF, "c.gif", data=gif(frames[:2] + [picture(color=(0, 0, 0))]))
    fp, _ = _fp([a, b, c])
    assert fp.keys[0, 0] == fp.keys[1, 0] != fp.keys[2, 0]
    assert fp.group[0] == GROUPS["gif"]


def test_audio_exact_over_decoded_pcm():
    flac, wav = record(Kind.AUDIO, "a.flac", data=tone(440, "FLAC")), record(Kind.AUDIO, "a.wav", data=tone(440, "WAV"))
    other = record(Kind.AUDIO, "b.flac", data=tone(660, "FLAC"))
    fp, _ = _fp([flac, wav, other])
    assert fp.keys[0, 0] == fp.keys[1, 0] != fp.keys[2, 0]


def test_midi_exact_over_notes_and_transposition_is_near():
    tune = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 64, 67, 72]
    a = record(Kind.MIDI, "a.mid", data=melody(tune))
    resaved = record(Kind.MIDI, "b.mid", data=melody(tune, tracks=3, tpb=960))
    up = record(Kind.MIDI, "c.mid", data=melody(tune, transpose=5))
    other = record(Kind.MIDI, "d.mid", data=melody(list(reversed(tune))[::2] * 2))
    fp, errors = _fp([a, resaved, up, other])
    assert not errors
    assert fp.keys[0, 0] == fp.keys[1, 0] != fp.keys[2, 0]
    assert estimate_jaccard(fp.sig[0], fp.sig[2]) == 1.0
    assert (fp.keys[0, 1:15] == fp.keys[2, 1:15]).all()
    assert estimate_jaccard(fp.sig[0], fp.sig[3]) < 0.5


def test_blobs_exact_over_bytes():
    a, b = record(Kind.BLOB, "a.bin", data=b"\x00\x01" * 50), record(Kind.BLOB, "b.bin", data=b"\x00\x01" * 50)
    fp, _ = _fp([a, b, record(Kind.BLOB, "c.bin", data=b"\x00\x02" * 50)])
    assert fp.keys[0, 0] == fp.keys[1, 0] != fp.keys[2, 0]


def test_bad_records_fail_with_a_reason_and_the_rest_go_on(prose):
    docs = [
        record(Kind.TEXT, "empty.txt", text="  \n "),
        record(Kind.PDF, "scan.pdf", text=""),
        record(Kind.IMAGE, "nobytes.png", data=None),
        record(Kind.IMAGE, "broken.png", data=b"\x89PNG\r\n\x1a\n garbage"),
        record(Kind.AUDIO, "broken.flac", data=b"fLaC not really"),
        record(Kind.MIDI, "broken.mid", data=b"MThd\x00\x00\x00\x06\x00"),
        record(Kind.MIDI, "silent.mid", data=melody([])),
        record(Kind.TEXT, "fine.txt", text=prose[4]),
    ]
    docs[2].media = []
    fp, errors = _fp(docs)
    reasons = {docs[i].metadata["uri"]: r for i, r, _ in errors}
    assert reasons == {"empty.txt": "empty_text", "scan.pdf": "empty_text", "nobytes.png": "missing_media",
                       "broken.png": "undecodable_media", "broken.flac": "undecodable_media",
                       "broken.mid": "undecodable_media", "silent.mid": "empty_media"}
    assert fp.status.tolist() == [FAILED] * 7 + [0]
    assert fp.keys[7, 0] != 0 and (fp.keys[:7] == 0).all()
    assert all(detail for _, _, detail in errors)
    assert np.isfinite(fp.score).all()


def test_fold_text_is_nfkc_with_whitespace_runs_as_one_space():
    """fold_text skips split + join on text already folded; it must equal the definition on every
    whitespace character str.split knows, alone, doubled, at either end and between words, and on
    characters NFKC turns into spaces (NBSP, U+3000, U+00A8: space + diaeresis)."""
    import sys
    import unicodedata

    from thresher.dedup.features import fold_text

    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert len(spaces) > 20
    samples = ["", " ", "a", "a b", "ａ b", "x\u00a8y", "Ｆoo\u3000bar", "a\u00a0b", "e\u0301 b", "\ufb01 ligature"]
    for ws in spaces + ["\u00a8", "  "]:
        samples += [ws, f"a{ws}b", f"{ws}a b", f"a b{ws}", f"a{ws}{ws}b", f"a {ws}b", f"Ｆ{ws}é{ws}"]
    for text in samples:
        assert fold_text(text) == " ".join(unicodedata.normalize("NFKC", text).split()), repr(text)


def test_an_arrow_batch_fingerprints_as_its_documents_do(prose):
    """The dedup stage hands the fingerprinter arrow batches; the same records as Documents give
    the same fingerprints and errors, and a text's signature is that of its folded, lower-cased
    text (the kernel folds and lower-cases the raw text itself)."""
    from thresher.dedup.features import fold_text
    from thresher.dedup.minhash import MinHasher
    from thresher.records import to_table

    texts = [prose[0], "  ΟΔΟΣ  Ｆoo\u2028bar … ﬁne ", "नमस्ते दुनिया " + prose[1], "e\u0301 x " * 5, "\u00a0\u2029"]
    docs = [record(Kind.TEXT, f"t{i}", text=t) for i, t in enumerate(texts)]
    docs += [record(Kind.PDF, "p", text=prose[2]), record(Kind.IMAGE, "i", data=encode(picture(), "PNG")),
             record(Kind.MIDI, "m", data=melody([60, 62, 64, 65, 67, 69])), record(Kind.IMAGE, "bad", data=b"not png"),
             record(Kind.AUDIO, "a", data=tone(440, "WAV")), record(Kind.BLOB, "b", data=b"\x00\x01" * 9)]
    as_docs, errors = _fp(docs)
    as_batch, batch_errors = _fp(to_table(docs).to_batches()[0])
    assert [e[:2] for e in errors] == [e[:2] for e in batch_errors]
    assert sorted(e[:2] for e in errors) == [(4, "empty_text"), (8, "undecodable_media")]
    for field in ("group", "status", "score", "length", "check", "phash", "color", "keys", "sig", "sets", "set_len"):
        assert np.array_equal(getattr(as_docs, field), getattr(as_batch, field)), field
    want = MinHasher(P.num_perm, P.seed, P.ngram).signatures([fold_text(t).lower() for t in texts[:4]], normalized=True)
    assert np.array_equal(as_batch.sig[:4], want)
    from thresher.dedup.features import _key128

    for i, t in enumerate(texts[:4]):  # the exact key: blake2b of the folded text, in the text namespace
        assert (as_batch.keys[i, 0], as_batch.check[i]) == _key128("text", fold_text(t).encode()), i
    assert (as_batch.keys[5, 0], as_batch.check[5]) == _key128("book", fold_text(prose[2]).encode())
