"""The dedup stage end to end on an extract folder of every kind: what is removed, what is kept,
the counts, incremental runs against an earlier index, and resuming after an interruption."""

import polars as pl
import pytest
from thresher.dedup.index import Index
from thresher.pipelines.config import load_config
from thresher.pipelines.dedup import plan
from thresher.pipelines.engine import run_plan
from thresher.pipelines.run import run_stages

from thresher.errors import StageError
from thresher.io import RecordWriter
from thresher.records import Kind

from .conftest import edit, encode, gif, melody, near_image, picture, record, tone

TUNE = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 64, 67, 72]


def corpus(prose):
    """(records, {uri of a planted duplicate: the uri it duplicates}, uris of bad records)."""
    im, other = picture(), picture(color=(20, 20, 200), bg=(250, 250, 0), shape="rectangle")
    frames = [picture(color=(200, 20 * k, 10)) for k in range(3)]
    docs = [
        record(Kind.TEXT, "t0", text=prose[0]),
        record(Kind.TEXT, "t0-copy", text=prose[0] + "\n\n", source="other"),
        record(Kind.TEXT, "t0-edit", text=edit(prose[0], 0.02, 1)),
        record(Kind.TEXT, "t0-far", text=edit(prose[0], 0.3, 2)),  # Jaccard ~0.2: kept
        record(Kind.TEXT, "t1", text=prose[1]),
        record(Kind.PDF, "b.pdf", text=prose[2]),
        record(Kind.EPUB, "b.epub", text=prose[2]),
        record(Kind.IMAGE, "i.png", data=encode(im, "PNG")),
        record(Kind.IMAGE, "i.bmp", data=encode(im, "BMP")),
        record(Kind.IMAGE, "i-near.png", data=encode(near_image(im), "PNG")),
        record(Kind.IMAGE, "j.png", data=encode(other, "PNG")),
        record(Kind.GIF, "g.gif", data=gif(frames)),
        record(Kind.GIF, "g2.gif", data=gif(frames)),
        record(Kind.AUDIO, "a.flac", data=tone(440, "FLAC")),
        record(Kind.AUDIO, "a.wav", data=tone(440, "WAV")),
        record(Kind.AUDIO, "b.flac", data=tone(550, "FLAC")),
        record(Kind.MIDI, "m.mid", data=melody(TUNE)),
        record(Kind.MIDI, "m-up.mid", data=melody(TUNE, transpose=7)),
        record(Kind.MIDI, "n.mid", data=melody(TUNE[::-1][::2] * 2)),
        record(Kind.BLOB, "x.bin", data=b"\x07" * 99),
        record(Kind.BLOB, "x2.bin", data=b"\x07" * 99),
        record(Kind.TEXT, "empty", text=" "),
        record(Kind.IMAGE, "nobytes.png", data=b""),
    ]
    dups = {"t0-copy": "t0", "t0-edit": "t0", "b.epub": "b.pdf", "i.bmp": "i.png", "i-near.png": "i.png",
            "g2.gif": "g.gif", "a.wav": "a.flac", "m-up.mid": "m.mid", "x2.bin": "x.bin"}
    return docs, dups, {"empty", "nobytes.png"}


def write_extract(work, docs, ranks=2):
    writer = RecordWriter(work / "extract")
    for r in range(ranks):
        for doc in docs[r::ranks]:
            writer.write(doc, r)
        writer.close()


def config(work, **dedup):
    return load_config({"workdir": str(work), "executor": {"workers": 1, "tasks": 2}, "dedup": dedup})


def _read(folder):
    files = sorted(folder.glob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame({"id": [], "uri": []})


def outputs(work):
    return _read(work / "dedup"), _read(work / "dedup" / "_removed"), _read(work / "dedup" / "_errors")


def test_every_kind_planted_duplicates_removed_and_nothing_else(tmp_path, prose):
    docs, dups, bad = corpus(prose)
    write_extract(tmp_path, docs)
    [result] = run_stages(config(tmp_path), ["dedup"], echo=lambda s: None)
    kept, removed, errors = outputs(tmp_path)
    assert result.read == len(docs) == len(kept) + len(removed) + len(errors)
    assert result.kept == len(kept) and result.side == {"failed": 2, "removed": len(removed)}
    assert set(errors["uri"]) == bad and set(errors["reason"]) == {"empty_text", "missing_media"}
    # each planted group keeps exactly one record; everything else is kept
    groups = {}
    for dup, orig in dups.items():
        groups.setdefault(orig, {orig}).add(dup)
    in_groups = set().union(*groups.values())
    assert set(removed["uri"]) <= in_groups
    for members in groups.values():
        assert len(members & set(kept["uri"])) == 1, members
    assert (set(kept["uri"]) | set(removed["uri"])) - in_groups == {d.metadata["uri"] for d in docs} - in_groups - bad
    # removed rows name their survivor, which is a kept record of the same cluster
    ids = dict(zip(kept["id"], kept["uri"]))
    for row in removed.iter_rows(named=True):
        assert row["stage"] == "dedup" and row["duplicate_of"] in ids and row["cluster_id"] == row["duplicate_of"]
        assert row["reason"] in ("exact_duplicate", "near_duplicate")
        orig = dups.get(row["uri"], row["uri"])
        survivor = ids[row["duplicate_of"]]
        assert dups.get(survivor, survivor) == orig
    reasons = dict(zip(removed["uri"], removed["reason"]))
    assert reasons.get("i.bmp", "exact_duplicate") == "exact_duplicate"
    assert reasons.get("m-up.mid", "near_duplicate") == "near_duplicate"
    assert kept.filter(pl.col("uri") == "t1")["cluster_id"].to_list() == [None]
    # a second run skips the finished stage
    [again] = run_stages(config(tmp_path), ["dedup"], echo=lambda s: None)
    assert again.skipped and again.kept == result.kept


def test_incremental_run_dedups_against_an_earlier_index(tmp_path, prose):
    docs, _, _ = corpus(prose)
    first, second = tmp_path / "first", tmp_path / "second"
    write_extract(first, docs[:5])
    run_stages(config(first), ["dedup"], echo=lambda s: None)
    new = [record(Kind.TEXT, "t0-again", text=prose[0]), record(Kind.TEXT, "t1-edit", text=edit(prose[1], 0.01, 5)),
           record(Kind.TEXT, "t5", text=prose[5]), record(Kind.TEXT, "t5-copy", text=prose[5])]
    write_extract(second, new)
    old_index = first / "dedup" / "_index"
    run_stages(config(second, index=[str(old_index)]), ["dedup"], echo=lambda s: None)
    kept, removed, _ = outputs(second)
    assert set(kept["uri"]) == {"t5"} or set(kept["uri"]) == {"t5-copy"}
    first_kept = pl.read_parquet(first / "dedup" / "*.parquet")
    old_ids = dict(zip(first_kept["id"], first_kept["uri"]))
    dup_of = dict(zip(removed["uri"], removed["duplicate_of"]))
    assert old_ids[dup_of["t0-again"]] in ("t0", "t0-edit") and old_ids[dup_of["t1-edit"]] == "t1"
    assert len(Index(old_index)) == 5  # the earlier index is read, never rewritten
    write_extract(tmp_path / "third", new)
    with pytest.raises(StageError, match="other settings"):
        run_stages(config(tmp_path / "third", index=[str(old_index)], num_perm=64, bands=8, rows=8), ["dedup"],
                   echo=lambda s: None)


def test_resume_after_an_interruption_gives_the_same_result(tmp_path, prose):
    docs, _, _ = corpus(prose)
    clean, broken = tmp_path / "clean", tmp_path / "broken"
    for work in (clean, broken):
        write_extract(work, docs)
    run_stages(config(clean), ["dedup"], echo=lambda s: None)
    # the run dies after the first two passes: a filter task left a half-written file behind
    cfg = config(broken)
    parts = plan(cfg).then
    for part in parts[:2]:
        run_plan(cfg, part)
    (broken / "dedup").mkdir(exist_ok=True)
    (broken / "dedup" / "00000.parquet.tmp").write_bytes(b"half a file")
    [result] = run_stages(cfg, ["dedup"], echo=lambda s: None)
    assert not (broken / "dedup" / "00000.parquet.tmp").exists()
    a, b = outputs(clean), outputs(broken)
    for x, y in zip(a, b):
        assert sorted(x["id"]) == sorted(y["id"])
    assert result.read == result.kept + sum(result.side.values())


def test_rows_changed_under_the_index_is_a_clear_error(tmp_path, prose):
    docs, _, _ = corpus(prose)
    write_extract(tmp_path, docs)
    cfg = config(tmp_path)
    for part in plan(cfg).then[:3]:
        run_plan(cfg, part)
    write_extract(tmp_path, docs + [record(Kind.TEXT, "late", text=prose[6])] * 2)
    with pytest.raises(StageError, match="changed since"):
        run_plan(cfg, plan(cfg).then[3])


def test_disabled_copies_every_record_and_a_bad_index_path_is_refused(tmp_path, prose):
    docs, _, _ = corpus(prose)
    write_extract(tmp_path, docs)
    [result] = run_stages(config(tmp_path, enabled=False), ["dedup"], echo=lambda s: None)
    assert result.kept == result.read == len(docs)
    with pytest.raises(StageError, match="not a dedup index"):
        plan(config(tmp_path / "other", index=[str(tmp_path / "extract")]))


def test_threshold_picks_bands_and_rows_when_they_are_unset(tmp_path):
    from thresher.pipelines.dedup import params

    from thresher.errors import ConfigError

    assert (params(config(tmp_path).dedup).bands, params(config(tmp_path).dedup).rows) == (14, 8)
    p = params(config(tmp_path, bands=None, rows=None, threshold=0.8).dedup)
    assert (p.bands, p.rows) == (9, 12)
    with pytest.raises(ConfigError, match="exceeds dedup.num_perm"):
        config(tmp_path, bands=20, rows=8)


def test_a_batch_whose_fingerprinting_raises_fails_only_its_culprit(tmp_path, prose, monkeypatch):
    """A bug that makes the signature step raise for a whole batch: the batch is fingerprinted
    again record by record, the record that raises lands in _errors as internal_error with a
    failed row in the index, and the filter pass skips it (no "extract folder changed")."""
    from thresher.dedup import features

    docs, dups, bad = corpus(prose)
    write_extract(tmp_path, docs)
    real = features.Fingerprinter.__call__
    batches = []

    def flaky(self, batch):  # a features.Rows of the stage's arrow batch
        batches.append(len(batch))
        if "t1" in batch.column("uri"):
            raise RuntimeError("planted bug")
        return real(self, batch)

    monkeypatch.setattr(features.Fingerprinter, "__call__", flaky)
    [result] = run_stages(config(tmp_path), ["dedup"], echo=lambda s: None)
    kept, removed, errors = outputs(tmp_path)
    assert max(batches) > 1  # the culprit's whole batch raised before it was retried record by record
    assert result.read == len(docs) == len(kept) + len(removed) + len(errors)
    assert result.side == {"failed": len(bad) + 1, "removed": len(dups)}
    culprit = errors.filter(pl.col("uri") == "t1")
    assert culprit["reason"].to_list() == ["internal_error"] and "planted bug" in culprit["detail"][0]
    assert set(errors["uri"]) == bad | {"t1"}
    # the culprit's batch mates dedup as usual: one survivor per planted group, the rest removed
    groups = {}
    for dup, orig in dups.items():
        groups.setdefault(orig, {orig}).add(dup)
    assert len(removed) == len(dups) and set(removed["uri"]) <= set().union(*groups.values())
    assert all(len(members & set(kept["uri"])) == 1 for members in groups.values())
    ix = Index(tmp_path / "dedup" / "_index")
    assert len(ix) == len(docs) and int((ix.info("status") != 0).sum()) == len(bad) + 1


def test_the_same_survivors_whatever_the_task_count(tmp_path, prose):
    """Records dealt to 1, 2 or 3 extract files (row numbers change) keep the same survivors: ties
    of score and length (exact copies of equal length, the same text from two sources) are broken
    by a hash of the record id, not by the row."""
    docs, _, _ = corpus(prose)
    docs += [record(Kind.TEXT, f"copy{i}", text=prose[3], source=f"s{i}") for i in range(5)]  # five-way tie
    docs += [record(Kind.TEXT, f"near{i}", text=edit(prose[4], 0.01, i)) for i in range(4)]
    outcomes = []
    for ranks in (1, 2, 3):
        work = tmp_path / f"ranks{ranks}"
        write_extract(work, docs, ranks=ranks)
        cfg = load_config({"workdir": str(work), "executor": {"workers": 1, "tasks": ranks}})
        run_stages(cfg, ["dedup"], echo=lambda s: None)
        kept, removed, _ = outputs(work)
        outcomes.append((sorted(kept["uri"]), sorted(zip(removed["uri"], removed["duplicate_of"]))))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert sum(u.startswith("copy") for u in outcomes[0][0]) == 1


NO_PANDAS = """
import json, sys
from thresher.pipelines.config import load_config
from thresher.pipelines.run import run_stages
cfg = load_config({"workdir": sys.argv[1], "executor": {"workers": 1, "tasks": 2}})
[result] = run_stages(cfg, ["dedup"], echo=lambda s: None)
print(json.dumps({"pandas": "pandas" in sys.modules, "scipy.linalg": "scipy.linalg" in sys.modules,
                  "scipy.sparse": "scipy.sparse" in sys.modules, "removed": result.side.get("removed", 0)}))
"""


def test_the_stage_never_imports_pandas_or_scipys_linalg_and_sparse(tmp_path, prose):
    """pyarrow imports pandas (0.15-0.2 s, a sixth of the stage on 15 MB) at its first array made
    from Python or numpy values; the passes build and read arrays through thresher.arrow instead.
    scipy.linalg (numba's BLAS probe) and scipy.sparse (the clustering) cost as much again
    (dedup/fused.py, dedup/cluster.py). In a fresh process, on every kind, with bad records."""
    import json
    import subprocess
    import sys

    docs, dups, _ = corpus(prose)
    write_extract(tmp_path, docs)
    out = subprocess.run([sys.executable, "-c", NO_PANDAS, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"pandas": False, "scipy.linalg": False, "scipy.sparse": False, "removed": len(dups)}
