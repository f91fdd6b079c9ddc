"""The vocabulary does not depend on the folder it was trained in: the same records tokenized in two
work folders give byte-identical model files and the same fingerprint (sentencepiece records its
`input` and `model_prefix` in the model's trainer_spec when it is trained from a file). Nor on the
process: past the line cap the sample is ours and seeded (sentencepiece's reservoir drew another
sample in each process)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import sentencepiece as spm
from thresher.tokenizer.bpe import NEWLINE, pick_lines, train_bpe
from thresher.tokenizer.layout import FILES, MARKERS

from thresher.records import to_table


def _lines(path, n=300):
    words = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma"]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(" ".join(words[(i * j) % len(words)] for j in range(1, 40)) + NEWLINE + f"line {i}\n")


def test_train_bpe_writes_no_path_into_the_model(tmp_path):
    models = []
    for name in ("a", "a_much_longer_folder_name"):
        folder = tmp_path / name
        folder.mkdir()
        _lines(folder / "lines.txt")
        sp = train_bpe(folder / "lines.txt", folder / "bpe", vocab_size=400, markers=MARKERS, threads=1)
        data = (folder / "bpe.model").read_bytes()
        assert str(tmp_path).encode() not in data and b"lines.txt" not in data
        assert sp.serialized_model_proto() == data  # the returned model is the one saved
        models.append(data)
    assert models[0] == models[1]
    sp = spm.SentencePieceProcessor(model_proto=models[0])
    assert sp.get_piece_size() > 300 and sp.piece_to_id("<|image|>") != sp.unk_id()
    assert sp.decode(sp.encode("alpha beta line 7")) == "alpha beta line 7"


def test_tokenizer_stage_in_two_folders_gives_the_same_vocabulary(tmp_path, kit):
    import pyarrow.parquet as pq
    from thresher.pipelines.config import load_config
    from thresher.pipelines.run import run_stages

    vocabs = []
    for name in ("one", "two_in_a_deeper_folder/work"):
        work = tmp_path / name
        (work / "filter").mkdir(parents=True)
        pq.write_table(to_table(kit.records()), work / "filter" / "00000.parquet")
        cfg = load_config({"workdir": str(work), "executor": {"workers": 1, "tasks": 1},
                           "tokenizer": {"vocab_size": 600, "threads": 1}})
        run_stages(cfg, ["tokenizer"], echo=lambda line: None)
        folder = work / "tokenizer"
        vocabs.append(({f: (folder / f).read_bytes() for f in FILES.values()},
                       json.loads((folder / "vocab.json").read_text())))
    (files_a, layout_a), (files_b, layout_b) = vocabs
    assert files_a == files_b
    assert layout_a["fingerprint"] == layout_b["fingerprint"]
    assert layout_a == layout_b


def test_pick_lines_is_an_exact_seeded_uniform_sample_in_order():
    n, k = 200, 20
    picks = [list(pick_lines(range(n), n, k, seed)) for seed in range(2000)]
    assert all(len(p) == k and p == sorted(p) for p in picks)
    assert list(pick_lines(range(n), n, k, 7)) == picks[7]  # the same seed, the same sample
    assert len({tuple(p) for p in picks}) == len(picks)
    counts = Counter(i for p in picks for i in p)  # each item is taken 2000 * k / n = 200 times on average
    assert set(counts) == set(range(n)) and 140 < min(counts.values()) and max(counts.values()) < 260
    assert list(pick_lines(iter("abc"), 3, 5, 0)) == ["a", "b", "c"]


TRAIN_IN_A_PROCESS = """
import sys
from pathlib import Path
from thresher.tokenizer.bpe import train_bpe
from thresher.tokenizer.layout import MARKERS
lines, folder = Path(sys.argv[1]), Path(sys.argv[2])
folder.mkdir()
train_bpe(lines, folder / "bpe", vocab_size=400, markers=MARKERS, input_sentence_size=150, threads=1)
"""


def test_sampled_training_gives_the_same_model_in_another_process(tmp_path):
    _lines(tmp_path / "lines.txt", n=600)  # 600 lines, 150 sampled
    for name in ("p1", "p2"):
        subprocess.run([sys.executable, "-c", TRAIN_IN_A_PROCESS, str(tmp_path / "lines.txt"), str(tmp_path / name)],
                       check=True, timeout=120)
    model = (tmp_path / "p1" / "bpe.model").read_bytes()
    assert model == (tmp_path / "p2" / "bpe.model").read_bytes()
    full = train_bpe(tmp_path / "lines.txt", tmp_path / "full", vocab_size=400, markers=MARKERS, threads=1)
    assert full.serialized_model_proto() != model  # 150 of the 600 lines were sampled, not all of them


def test_the_model_does_not_record_the_thread_count(tmp_path):
    """sentencepiece stores num_threads in the trainer_spec (the CPU count by default): models trained
    with 1 and 2 threads have the same pieces and, with it taken out, the same bytes."""
    from sentencepiece import sentencepiece_model_pb2

    _lines(tmp_path / "lines.txt")
    models = []
    for threads in (1, 2):
        train_bpe(tmp_path / "lines.txt", tmp_path / f"bpe{threads}", vocab_size=400, markers=MARKERS, threads=threads)
        models.append((tmp_path / f"bpe{threads}.model").read_bytes())
    assert models[0] == models[1]
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(models[0])
    assert not proto.trainer_spec.HasField("num_threads") and proto.trainer_spec.byte_fallback
