"""The audio codebook's k-means: recovers separated clusters, keeps every frame of a tiny corpus."""

import numpy as np

from thresher.tokenizer.codebook import LOG_FLOOR, N_MELS, quantize, train_codebook


def test_kmeans_recovers_separated_clusters():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (64, N_MELS)).astype(np.float32)  # pairwise distance ~ 38, noise ~ 0.9
    frames = centres[rng.integers(0, 64, 20_000)] + rng.normal(0, 0.1, (20_000, N_MELS)).astype(np.float32)
    book, learned = train_codebook(frames, 64, seed=0)
    assert book.shape == (64, N_MELS) and book.dtype == np.float32 and learned == 64
    mse = float(((frames - book[quantize(frames, book)]) ** 2).sum(1).mean())
    # the noise alone is 80 * 0.01 = 0.8 per frame; one merged pair of clusters would add ~ 1400 / 64
    assert mse < 1.2, mse
    # every true centre has a codeword next to it
    nearest = np.sqrt(((centres[:, None] - book[None]) ** 2).sum(-1)).min(1)
    assert nearest.max() < 1.0, nearest.max()


def test_fewer_distinct_frames_than_codes_are_kept_and_silence_fills():
    frames = np.repeat(np.arange(5, dtype=np.float32)[:, None], N_MELS, 1)  # 5 distinct frames
    book, learned = train_codebook(np.concatenate([frames, frames]), 16, seed=0)
    assert learned == 6  # the 5 frames and silence
    assert book.shape == (16, N_MELS)
    silence = np.log10(LOG_FLOOR)
    assert (book[6:] == silence).all()
    assert set(map(float, book[:6, 0])) == {silence, 0.0, 1.0, 2.0, 3.0, 4.0}


def test_distinct_check_agrees_with_np_unique_around_k():
    from thresher.tokenizer.codebook import more_distinct_than

    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, (40, N_MELS)).astype(np.float32)
    for n_distinct in (1, 15, 16, 17, 40):
        rows = base[rng.integers(0, n_distinct, 10_000)]  # many repeats, spread over several 4096-row blocks
        want = len(np.unique(rows, axis=0)) > 16
        assert more_distinct_than([rows], 16) == want
        # a second part counts too: a row only it holds tips 16 distinct over
        assert more_distinct_than([rows, base[39:40] + 100], 16) == (len(np.unique(rows, axis=0)) + 1 > 16)


def test_reservoir_sample_is_held_once_and_repeats():
    from thresher.tokenizer.train import Reservoir

    r = Reservoir(cap=1000, width=N_MELS, dtype=np.float32, seed=0)
    for i in range(30):
        r.add(np.full((100, N_MELS), i, np.float32))
    first = r.sample()
    assert len(first) == 1000 and len(r.blocks) == 1 and r.blocks[0] is first and r.held == 1000 and r.seen == 3000
    assert np.array_equal(r.sample(), first)
