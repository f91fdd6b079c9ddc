"""Reading and writing records as parquet of `thresher.records.SCHEMA`, as datatrove steps.

`RecordWriter` is a datatrove `DiskWriter`, so it also serves as a filter's `exclusion_writer`.
Unlike datatrove's ParquetWriter it always writes the explicit schema (every file of every stage
reads back with one `pl.scan_parquet`) and it writes atomically: rows go to `NAME.tmp`, which is
renamed to `NAME` when the task closes the writer, so a task killed half way leaves no readable
half file, and its rerun rewrites the whole file.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import DataFolderLike, get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter

from thresher.errors import CorruptFile
from thresher.records import SCHEMA, document_to_row, row_to_document

# Rows are flushed to a row group when either limit is reached; media bytes make rows uneven.
FLUSH_ROWS = 512
FLUSH_BYTES = 64 * 2**20
# Arrow batches (a columnar step's, typically 256 rows) are gathered into row groups of up to this
# many rows: parquet writes 256-row groups at half the speed of 4096-row ones, and larger.
FLUSH_BATCH_ROWS = 8192


def _folder(folder: DataFolderLike | os.PathLike) -> DataFolderLike:
    return os.fspath(folder) if isinstance(folder, os.PathLike) else folder


def rank_filename(rank: int) -> str:
    return f"{rank:05d}.parquet"


class RecordWriter(DiskWriter):
    """Write Documents as rows of SCHEMA to `<folder>/<rank>.parquet`, atomically.

    `always_create`: write a (possibly empty) file for every rank that ran; side outputs such as
    `_errors/` set it False so that they only hold files with rows.
    """

    name = "📒 records"
    # no _requires_dependencies: pyarrow is imported above (a core dependency), and datatrove's
    # check scans every installed distribution's metadata (~50 ms) each time a writer is made

    def __init__(self, output_folder: DataFolderLike, *, always_create: bool = True, compression: str = "zstd",
                 extra_columns: tuple[pa.Field, ...] = (), extra_values: Callable[[Document], dict] | None = None):
        """`extra_columns` are top-level columns after SCHEMA's (the shard sidecar's `split`,
        `n_tokens`, ...), filled per row by `extra_values(doc)` (a module-level function: the
        writer is pickled to the workers)."""
        super().__init__(_folder(output_folder), "${rank}.parquet", compression=None, mode="wb")
        self.schema = pa.schema(list(SCHEMA) + list(extra_columns)) if extra_columns else SCHEMA
        self.extra_values = extra_values
        self.always_create = always_create
        self.parquet_compression = compression
        self._rank: int | None = None
        self._rows: list[dict] = []
        self._batches: list[pa.Table] = []  # arrow rows waiting, never at the same time as _rows
        self._batch_rows = 0
        self._row_bytes = 0
        self._file: IO | None = None
        self._writer: pq.ParquetWriter | None = None

    # DiskWriter calls write(); we route rows ourselves to keep the file atomic and schema fixed.
    def write(self, document: Document | pa.RecordBatch, rank: int = 0, **kwargs) -> None:
        """One Document, or an arrow batch of SCHEMA rows (what `RecordReader(arrow=True)` reads and
        a columnar step such as the dedup filter yields), written as it is."""
        if isinstance(document, pa.RecordBatch):
            self.write_batch(document, rank)
            return
        self.open(rank)
        if self._batches:  # arrow rows written before this one stay before it
            self._flush()
        row = document_to_row(document)
        if self.extra_values is not None:
            row.update(self.extra_values(document))
        self._rows.append(row)
        self._row_bytes += len(row["text"] or "") + sum(len(m["bytes"] or b"") for m in row["media"])
        self.stat_update(document.metadata.get("kind") or "record")
        if len(self._rows) >= FLUSH_ROWS or self._row_bytes >= FLUSH_BYTES:
            self._flush()

    def write_batch(self, batch: pa.RecordBatch, rank: int = 0) -> None:
        """Rows that are arrow already: no Document or dict per row (a columnar step's output). The
        batch must have this writer's columns (SCHEMA's, then `extra_columns`), in any order."""
        self.open(rank)
        if batch.num_rows == 0:
            return
        if self._rows:  # rows written one by one before this batch stay before it
            self._flush()
        table = pa.Table.from_batches([batch])
        if not table.schema.equals(self.schema):
            missing = [name for name in self.schema.names if name not in table.schema.names]
            if missing:
                raise ValueError(f"a batch without the record columns {missing} cannot be written as records")
            table = table.select(self.schema.names).cast(self.schema)
        self._batches.append(table)
        self._batch_rows += table.num_rows
        self._row_bytes += table.nbytes
        kinds = batch.column("kind").value_counts()
        for kind, n in zip(kinds.field("values").to_pylist(), kinds.field("counts").to_pylist()):
            self.stat_update(kind or "record", value=n)
        if self._batch_rows >= FLUSH_BATCH_ROWS or self._row_bytes >= FLUSH_BYTES:
            self._flush()

    def _write(self, document: dict, file_handler: IO, filename: str):  # pragma: no cover - unused
        raise AssertionError("RecordWriter.write handles rows itself")

    def open(self, rank: int) -> None:
        """Start this rank's file, removing what an earlier, interrupted attempt left behind."""
        if self._rank == rank:
            return
        if self._rank is not None:
            self._finish()
        self._rank = rank
        final = rank_filename(rank)
        for stale in (final, final + ".tmp"):
            if self.output_folder.isfile(stale):
                self.output_folder.rm(stale)

    def _flush(self) -> None:
        if self._writer is None:
            self._file = self.output_folder.open(rank_filename(self._rank) + ".tmp", "wb")
            self._writer = pq.ParquetWriter(self._file, self.schema, compression=self.parquet_compression)
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
        if self._batches:
            self._writer.write_table(pa.concat_tables(self._batches))
        self._rows, self._batches, self._batch_rows, self._row_bytes = [], [], 0, 0

    def _finish(self) -> None:
        if self._rows or self._batches or (self.always_create and self._writer is None):
            self._flush()
        if self._writer is not None:
            self._writer.close()
            self._file.close()
            name = rank_filename(self._rank)
            self.output_folder.mv(name + ".tmp", name)
        self._writer = self._file = None
        self._rank = None

    def close(self) -> None:
        """Finish the file, or, when closed because an exception is on its way up (Ctrl-C, a
        crashed task), drop the `.tmp`: a file under its final name is always complete. A generator
        closed early (GeneratorExit) is a normal end."""
        in_flight = sys.exc_info()[0]
        if self._rank is not None:
            if in_flight is not None and not issubclass(in_flight, GeneratorExit):
                self.abort()
            else:
                self._finish()
        super().close()

    def abort(self) -> None:
        """Close this rank's file without renaming it into place, and delete it."""
        if self._writer is not None:
            self._writer.close()
            self._file.close()
            name = rank_filename(self._rank) + ".tmp"
            if self.output_folder.isfile(name):
                self.output_folder.rm(name)
        self._writer = self._file = None
        self._rows, self._batches, self._batch_rows, self._row_bytes, self._rank = [], [], 0, 0, None


class RecordReader(PipelineStep):
    """Read the parquet records of a stage folder; files are dealt to ranks round-robin."""

    name = "📖 records"
    type = "📖 - READER"

    def __init__(self, input_folder: DataFolderLike, *, batch_rows: int = 256, columns: list[str] | None = None,
                 arrow: bool = False):
        """`arrow`: yield the rows as arrow batches of `batch_rows` (pa.RecordBatch of SCHEMA) for a
        columnar step, not one Document each (the dedup stage's passes: building a Document and a
        dict per row costs more there than the step's own work)."""
        super().__init__()
        self.input_folder = get_datafolder(_folder(input_folder))
        self.batch_rows = batch_rows
        self.columns = columns
        self.arrow = arrow

    def files_for(self, rank: int, world_size: int) -> list[str]:
        files = sorted(f for f in self.input_folder.list_files(glob_pattern="*.parquet") if "/" not in f)
        return files[rank::world_size]

    def read_batches(self, path: str) -> Iterator[pa.RecordBatch]:
        """The rows of one file in arrow batches; a file parquet cannot read is a CorruptFile naming
        it (the engine adds which stage wrote it), never a bare ArrowInvalid."""
        try:
            with self.input_folder.open(path, "rb") as f:
                pf = pq.ParquetFile(f)
                yield from pf.iter_batches(batch_size=self.batch_rows, columns=self.columns)
        except (pa.ArrowInvalid, OSError) as e:
            raise CorruptFile(self.input_folder.resolve_paths(path), f"{type(e).__name__}: {e}") from None

    def read_file(self, path: str) -> Iterator[Document]:
        """The rows of one file as Documents."""
        for batch in self.read_batches(path):
            yield from batch_documents(batch)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        for path in self.files_for(rank, world_size):
            if self.arrow:
                for batch in self.read_batches(path):
                    self.stat_update("documents", value=batch.num_rows)
                    yield batch
                continue
            for doc in self.read_file(path):
                self.stat_update("documents")
                yield doc


def batch_documents(batch: pa.RecordBatch) -> list[Document]:
    """The rows of an arrow batch of SCHEMA as Documents."""
    return [row_to_document(row) for row in batch.to_pylist()]


_DONE = object()  # the end of a prefetched stream


def prefetched(items, depth: int = 2) -> Iterator:
    """`items` (an iterable: typically the records a RecordReader yields) advanced by a thread up to
    `depth` items ahead, in order. Reading and decoding parquet releases the GIL, so the next batch
    is read while the consumer works on this one (numba's nogil kernels, or its first-call set-up),
    with the CPU a worker would otherwise leave idle. An exception upstream is raised here, in order,
    at the item where it happened; closing this generator early stops the thread, which is always
    joined before this returns (a pool forked later must not see a running thread)."""
    if items is None:
        return
    import queue
    import threading

    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        out.put((item, None), timeout=0.05)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put((_DONE, None))
        except BaseException as e:  # handed to the consumer, which raises it
            out.put((_DONE, e))
        finally:
            close = getattr(items, "close", None)
            if close is not None and stop.is_set():
                close()

    thread = threading.Thread(target=produce, name="thresher-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = out.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # let a producer blocked on a full queue see the stop
            try:
                out.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=0.05)
