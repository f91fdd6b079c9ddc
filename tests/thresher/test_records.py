import polars as pl
import pyarrow.parquet as pq
import pytest

from thresher.io import RecordReader, RecordWriter
from thresher.records import (
    SCHEMA,
    SCHEMA_VERSION,
    Kind,
    document_to_row,
    make_id,
    mark,
    media_bytes,
    new_document,
    new_media,
    row_to_document,
    to_table,
)


def _image_doc():
    media = new_media(Kind.IMAGE, data=b"\x89PNG...", mime="image/png", width=4, height=3,
                      caption="a red square", caption_source="sidecar")
    return new_document(id=make_id("s", "a.png", b"x"), kind=Kind.IMAGE, source="s", uri="a.png", media=[media],
                        width=4, height=3, flags=["x"], extra={"exif": {"k": 1}})


def test_ids_are_stable_and_depend_on_source_uri_and_content():
    assert make_id("s", "a", b"1") == make_id("s", "a", b"1")
    assert len({make_id("s", "a", b"1"), make_id("t", "a", b"1"), make_id("s", "b", b"1"), make_id("s", "a", b"2")}) == 4


def test_row_round_trip_keeps_columns_media_and_extra():
    doc = _image_doc()
    back = row_to_document(document_to_row(doc))
    assert back.id == doc.id and back.metadata["kind"] == "image" and back.metadata["width"] == 4
    assert back.metadata["extra"] == {"exif": {"k": 1}}
    m = back.media[0]
    assert m.media_bytes == b"\x89PNG..." and m.metadata["caption"] == "a red square"
    assert m.metadata["caption_source"] == "sidecar" and m.metadata["width"] == 4


def test_unknown_keys_go_to_extra_and_table_has_the_schema():
    doc = new_document(id="1", kind="text", source="s", uri="u", text="héllo", favourite=3)
    assert doc.metadata["extra"] == {"favourite": 3}
    table = to_table([doc])
    assert table.schema.equals(SCHEMA, check_metadata=False)
    assert table.column("n_chars").to_pylist() == [5]


def test_media_by_path_offset_length(tmp_path):
    f = tmp_path / "big.bin"
    f.write_bytes(b"0123456789")
    m = new_media(Kind.BLOB, path=str(f), offset=2, length=3)
    assert media_bytes(m) == b"234"


def test_writer_is_atomic_and_readable_by_polars_and_datasets(tmp_path):
    import datasets

    out = tmp_path / "stage"
    writer = RecordWriter(out)
    docs = [_image_doc(), mark(new_document(id="2", kind="text", source="s", uri="u", text="t"), stage="x", reason="r")]
    for d in docs:
        writer.write(d, rank=3)
    # enough rows to flush a row group: the rows are on disk, under the temporary name only
    from thresher.io import FLUSH_ROWS

    filler = [new_document(id=f"f{i}", kind="text", source="s", uri=f"u{i}", text="x") for i in range(FLUSH_ROWS)]
    for d in filler:
        writer.write(d, rank=3)
    assert (out / "00003.parquet.tmp").is_file() and (out / "00003.parquet.tmp").stat().st_size > 0
    assert not (out / "00003.parquet").exists()
    writer.close()
    assert sorted(p.name for p in out.iterdir()) == ["00003.parquet"]
    meta = pq.read_schema(out / "00003.parquet").metadata
    assert meta[b"thresher.schema_version"] == str(SCHEMA_VERSION).encode()
    df = pl.read_parquet(out / "*.parquet")
    assert df.height == 2 + FLUSH_ROWS and df["reason"].to_list()[:2] == [None, "r"]
    ds = datasets.load_dataset("parquet", data_files=str(out / "*.parquet"), split="train")
    assert ds.num_rows == 2 + FLUSH_ROWS and ds[0]["media"][0]["caption"] == "a red square"
    read = list(RecordReader(out).run(None, 0, 1))
    assert [d.id for d in read] == [d.id for d in docs + filler]
    assert list(RecordReader(out).run(None, 1, 2)) == []  # one file, dealt to rank 0


def test_empty_side_writer_writes_nothing(tmp_path):
    writer = RecordWriter(tmp_path / "_errors", always_create=False)
    writer.open(0)
    writer.close()
    assert not (tmp_path / "_errors").exists() or not any((tmp_path / "_errors").iterdir())


def test_arrow_batches_read_and_written_as_they_are(tmp_path):
    """RecordReader(arrow=True) yields arrow batches of the records and RecordWriter writes such a
    batch as it is (the dedup stage's passes), between rows written one by one, in order; a batch
    without the record columns is refused with the names of what it lacks."""
    import pyarrow as pa

    src, out = tmp_path / "a", tmp_path / "b"
    writer = RecordWriter(src)
    docs = [_image_doc()] + [new_document(id=f"t{i}", kind="text", source="s", uri=f"u{i}", text=f"x {i}")
                             for i in range(5)]
    for d in docs:
        writer.write(d, rank=0)
    writer.close()
    batches = list(RecordReader(src, arrow=True, batch_rows=4).run(None, 0, 1))
    assert [b.num_rows for b in batches] == [4, 2] and all(isinstance(b, pa.RecordBatch) for b in batches)
    writer = RecordWriter(out)
    writer.write(new_document(id="first", kind="text", source="s", uri="f", text="one by one"), rank=0)
    for b in batches:
        writer.write(b.select([c for c in reversed(b.schema.names)]), rank=0)  # any column order
    writer.write(new_document(id="last", kind="text", source="s", uri="l", text="after the batches"), rank=0)
    writer.close()
    back = list(RecordReader(out).run(None, 0, 1))
    assert [d.id for d in back] == ["first"] + [d.id for d in docs] + ["last"]
    assert back[1].media[0].metadata["caption"] == "a red square" and back[3].text == "x 1"
    assert pq.read_schema(out / "00000.parquet").equals(pq.read_schema(src / "00000.parquet"))
    bad = RecordWriter(tmp_path / "c")
    with pytest.raises(ValueError, match="without the record columns"):
        bad.write(batches[0].drop_columns(["text", "media"]), rank=0)
    bad.abort()
