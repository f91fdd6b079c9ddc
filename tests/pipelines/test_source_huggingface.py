"""The Hugging Face source on small local datasets made here: text, image with caption, audio, chat;
ranks read disjoint parts that together hold every row; bad rows and an unreachable hub are clear."""

from __future__ import annotations

import io
from pathlib import Path

import datasets
import numpy as np
import polars as pl
import pytest
import soundfile as sf
from PIL import Image
from thresher.pipelines.config import load_config
from thresher.pipelines.run import run_stages
from thresher.pipelines.sources import build_source
from thresher.pipelines.sources import huggingface as hf_mod
from thresher.pipelines.sources.config import HuggingFaceSourceConfig as Cfg
from thresher.pipelines.sources.huggingface import (
    HUB_UNREACHABLE,
    HuggingFaceSource,
    render_chat,
)

from thresher.errors import StageError


def _png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format="PNG")
    return buf.getvalue()


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("P", (8, 8)).save(buf, format="GIF")
    return buf.getvalue()


def _wav(seconds: float = 0.1, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.sin(np.linspace(0, 440 * seconds * 6.28, int(rate * seconds))).astype("float32"), rate, format="WAV")
    return buf.getvalue()


def _run(cfg: Cfg, tmp: Path, world: int = 1):
    docs, stats = [], {}
    for rank in range(world):
        src = HuggingFaceSource(cfg, "hf", tmp)  # tmp is the pull folder: errors land in tmp/_errors/
        got = list(src.run(None, rank, world))
        docs.append(got)
        for k, v in src.stats.stats.items():
            stats[k] = stats.get(k, 0) + v.total
    files = list((tmp / "_errors").glob("*.parquet"))
    return docs, (pl.read_parquet(files) if files else pl.DataFrame({"reason": []})), stats


def test_text_image_caption_from_save_to_disk_split_across_ranks(tmp_path):
    n = 10
    rows = {"id": [f"r{i}" for i in range(n)], "text": [f"row {i} text" for i in range(n)],
            "image": [{"bytes": _gif() if i == 3 else _png((i, 0, 0)), "path": None} for i in range(n)],
            "alt": [f"a red square {i}" for i in range(n)], "source_url": [f"http://x/{i}" for i in range(n)]}
    feats = datasets.Features({"id": datasets.Value("string"), "text": datasets.Value("string"), "image": datasets.Image(),
                               "alt": datasets.Value("string"), "source_url": datasets.Value("string")})
    datasets.Dataset.from_dict(rows, features=feats).save_to_disk(str(tmp_path / "ds"), num_shards=2)
    cfg = Cfg(type="huggingface", dataset=str(tmp_path / "ds"),
              columns={"text": "text", "image": "image", "caption": "alt", "id": "id", "keep": ["source_url"]})
    per_rank, err, stats = _run(cfg, tmp_path / "out", world=3)
    ids = [d.metadata["extra"]["source_id"] for docs in per_rank for d in docs]
    assert sorted(ids) == sorted(rows["id"]) and all(per_rank)  # 2 files cut for 3 ranks: disjoint, complete
    docs = {d.metadata["extra"]["source_id"]: d for docs in per_rank for d in docs}
    d = docs["r1"]
    assert d.metadata["kind"] == "image" and d.text == "row 1 text" and d.media[0].media_bytes == rows["image"][1]["bytes"]
    assert d.media[0].metadata["caption"] == "a red square 1" and d.media[0].metadata["caption_source"] == "column"
    assert d.metadata["extra"]["source_url"] == "http://x/1"
    assert docs["r3"].metadata["kind"] == "gif"  # kind from the bytes
    assert stats["rows_read"] == n and err.height == 0


def test_audio_and_chat_from_parquet_files_dealt_by_file(tmp_path):
    wav = _wav()
    for k in range(2):
        # a {bytes, path} struct cast to Audio: encoding through Audio() itself would need torchcodec
        feats = datasets.Features({"audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
                                   "messages": [{"role": datasets.Value("string"), "content": datasets.Value("string")}]})
        ds = datasets.Dataset.from_dict({"audio": [{"bytes": wav, "path": f"a{k}{i}.wav"} for i in range(3)],
                                         "messages": [[{"role": "user", "content": f"q{k}{i}"},
                                                       {"role": "assistant", "content": f"a{k}{i}"}] for i in range(3)]},
                                        features=feats).cast_column("audio", datasets.Audio(decode=False))
        assert isinstance(ds.features["audio"], datasets.Audio)
        ds.to_parquet(str(tmp_path / f"part{k}.parquet"))
    cfg = Cfg(type="huggingface", dataset="parquet", data_files=str(tmp_path / "*.parquet"),
              columns={"audio": "audio", "chat": "messages"})
    per_rank, err, _ = _run(cfg, tmp_path / "out", world=2)
    assert [len(d) for d in per_rank] == [3, 3]  # one file per rank
    docs = [d for ds in per_rank for d in ds]
    assert all(d.metadata["kind"] == "audio" and d.media[0].media_bytes == wav for d in docs)
    assert docs[0].text == "User: q00\n\nAssistant: a00"
    cfg = Cfg(type="huggingface", dataset="parquet", data_files=str(tmp_path / "*.parquet"), columns={"chat": "messages"},
              max_records=4)
    per_rank, _, _ = _run(cfg, tmp_path / "out2", world=2)
    assert sum(map(len, per_rank)) == 4


def test_render_chat_template():
    assert render_chat([{"from": "human", "value": "hi"}, {"from": "gpt", "value": [{"type": "text", "text": "yo"}]},
                        {"role": "tool", "content": "42"}]) == "User: hi\n\nAssistant: yo\n\nTool: 42"
    with pytest.raises(Exception, match="bad_chat"):
        render_chat("not a list")


def test_bad_rows_become_error_rows_and_the_rest_goes_on(tmp_path):
    import json

    lines = [{"text": "good one"}, {"text": 5}, {"text": None}, {"text": "good two"}]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    (tmp_path / "img.jsonl").write_text(json.dumps({"pic": str(tmp_path / "nowhere.png")}))
    (tmp_path / "nocol.jsonl").write_text(json.dumps({"body": "x"}))
    cfg = Cfg(type="huggingface", dataset=str(tmp_path / "d.jsonl"))
    per_rank, err, stats = _run(cfg, tmp_path / "o1")
    assert [d.text for d in per_rank[0]] == ["good one", "good two"]
    assert sorted(err["reason"]) == ["bad_text", "empty_row"] and stats["rows_failed"] == 2
    _, err, _ = _run(Cfg(type="huggingface", dataset=str(tmp_path / "img.jsonl"), columns={"image": "pic"}), tmp_path / "o2")
    assert err["reason"].to_list() == ["missing_media"]
    _, err, _ = _run(Cfg(type="huggingface", dataset=str(tmp_path / "nocol.jsonl"), columns={"text": "text"}), tmp_path / "o3")
    assert err["reason"].to_list() == ["missing_column"] and "body" in err["detail"][0]
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    _, err, _ = _run(Cfg(type="huggingface", dataset="parquet", data_files=str(tmp_path / "broken.parquet")), tmp_path / "o4")
    assert err["reason"].to_list() == ["unreadable_dataset"]


def test_unreachable_hub_is_a_clear_stage_error(monkeypatch):
    import httpx2 as httpx
    from huggingface_hub import HfApi

    def offline(*a, **k):
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    monkeypatch.setattr(HfApi, "dataset_info", offline)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cfg = Cfg(type="huggingface", dataset="someone/some-dataset")
    with pytest.raises(StageError, match="cannot reach the Hugging Face hub; for offline use point `dataset` at a local folder"):
        build_source(cfg)


def test_hf_hub_offline_with_a_dataset_not_in_the_cache_stops_the_stage(monkeypatch, tmp_path):
    """Issue 14: HF_HUB_OFFLINE=1 with an uncached hub dataset stopped nothing (exit 0, 0 kept)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    monkeypatch.setattr(datasets.config, "HF_MODULES_CACHE", tmp_path / "modules")
    cfg = Cfg(type="huggingface", dataset="someone/some-dataset", streaming=True)
    with pytest.raises(StageError, match="HF_HUB_OFFLINE is set and Hugging Face dataset 'someone/some-dataset' is not in the local cache"):
        build_source(cfg)
    # a dataset that is not on the hub (a local file) is not checked against the cache
    (tmp_path / "rows.jsonl").write_text('{"text": "hello there"}\n')
    assert isinstance(build_source(Cfg(type="huggingface", dataset=str(tmp_path / "rows.jsonl"))), hf_mod.HuggingFaceSource)


def test_pull_stage_reads_a_saved_dataset(tmp_path):
    datasets.Dataset.from_dict({"text": [f"t{i}" for i in range(5)]}).save_to_disk(str(tmp_path / "ds"))
    cfg = load_config({"workdir": str(tmp_path / "work"), "executor": {"workers": 1, "tasks": 2},
                       "sources": [{"type": "huggingface", "dataset": str(tmp_path / "ds")}]})
    (result,) = run_stages(cfg, ["pull"], echo=lambda _: None)
    pulled = pl.read_parquet(tmp_path / "work" / "pull" / "*.parquet")
    assert sorted(pulled["text"]) == [f"t{i}" for i in range(5)] and result.kept == 5
    assert set(pulled["source"]) == {f"hf:{tmp_path / 'ds'}"}


def test_demo_dataset_pulls_text_images_and_chat(tmp_path):
    from thresher.pipelines.demo.sources import write_hf_dataset

    folder = write_hf_dataset(tmp_path / "hf")
    cfg = Cfg(type="huggingface", dataset=str(folder), columns={"text": "text", "image": "image", "caption": "caption"})
    (docs,), err, _ = _run(cfg, tmp_path / "o1")
    assert [d.metadata["kind"] for d in docs] == ["image", "text", "image", "text"] and err.height == 0
    (chats,), _, _ = _run(Cfg(type="huggingface", dataset=str(folder), columns={"chat": "messages"}), tmp_path / "o2")
    assert chats[1].text == "User: What is item 1?\n\nAssistant: Item 1 is a demo row."
