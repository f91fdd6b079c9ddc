"""`{type: huggingface, dataset, name, split, revision, streaming, columns, max_records, data_files}`.

Where the rows come from, and how ranks share them:

- `data_files` (local parquet/json/jsonl/csv/arrow, or a folder of them): one item per file, files
  dealt to ranks; each file is streamed with `datasets.load_dataset(<builder>, streaming=True)`, so
  nothing is copied into the Hugging Face cache.
- a folder written by `save_to_disk` (`dataset` is its path; a DatasetDict folder picks `split`):
  one item per arrow file, memory-mapped; when there are fewer files than ranks each file is cut
  into contiguous row ranges.
- a hub dataset id: `load_dataset(..., streaming=...)`; a stream is split with
  `split_dataset_by_node` (whole shards per rank when the shard count divides evenly), a
  downloaded dataset with `Dataset.shard(contiguous=True)`. Without network the stage stops before
  it starts with "cannot reach the Hugging Face hub ..." (exit 1); `HF_HUB_OFFLINE=1` skips that
  check and lets `datasets` use its cache; a dataset missing from the cache then stops the stage
  the same way ("HF_HUB_OFFLINE is set and ... is not in the local cache").

`columns` maps dataset columns to the record (thresher.config.HFColumns): `text`; `chat` (a list
of messages rendered with the template below); `image` / `audio` (Image/Audio features are read
undecoded, so the original file bytes travel; the kind is sniffed from those bytes); `caption`
(the media's caption, `caption_source: column`); `id` (kept as `source_id`); `lang`; `keep` (more
columns into the metadata). `max_records` caps the total; each rank takes its share.

Chat template: each message becomes `Role: content`, messages joined by a blank line, roles
`system -> System`, `user/human -> User`, `assistant/gpt/bot -> Assistant`, others capitalised;
`content` (or ShareGPT's `value`) may be a list of parts whose `text` fields are joined.
"""

from __future__ import annotations

import dataclasses
import glob
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from datatrove.data import Document
from thresher.extractors.sniff import HEAD_BYTES, sniff
from thresher.pipelines.sources.base import Source
from thresher.pipelines.sources.config import HuggingFaceSourceConfig

from thresher.errors import RecordError, StageError
from thresher.records import Kind, make_id, new_document, new_media

HUB_UNREACHABLE = ("cannot reach the Hugging Face hub; for offline use point `dataset` at a local folder "
                   "or set data_files")
BUILDERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".jsonl.gz": "json", ".json.gz": "json",
            ".csv": "csv", ".arrow": "arrow", ".txt": "text"}
ROLES = {"system": "System", "user": "User", "human": "User", "assistant": "Assistant", "gpt": "Assistant", "bot": "Assistant"}


def render_chat(messages: Any) -> str:
    """[{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello'}] -> 'User: Hi\\n\\nAssistant: Hello'."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise RecordError("bad_chat", f"a chat column holds a list of message objects, got {type(messages).__name__}")
    out = []
    for m in messages:
        role = str(m.get("role") or m.get("from") or "")
        content = m.get("content", m.get("value"))
        if isinstance(content, list):
            content = "\n".join(p.get("text") or "" for p in content if isinstance(p, dict) and p.get("text"))
        if not isinstance(content, str):
            raise RecordError("bad_chat", f"message content is {type(content).__name__}, not text")
        out.append(f"{ROLES.get(role.lower(), role.capitalize() or 'Message')}: {content}")
    return "\n\n".join(out)


def _builder_for(path: str) -> str | None:
    low = path.lower()
    return next((b for suffix, b in BUILDERS.items() if low.endswith(suffix)), None)


def _is_saved_dataset(folder: Path) -> bool:
    return (folder / "state.json").is_file() or (folder / "dataset_dict.json").is_file()


def _network_error(e: BaseException) -> bool:
    """Connection failures of requests/httpx, huggingface_hub's offline mode, a bare OSError."""
    names = {c.__name__ for c in type(e).__mro__}
    return bool(names & {"ConnectError", "ConnectionError", "ConnectTimeout", "TimeoutException", "NetworkError",
                         "OfflineModeIsEnabled", "LocalEntryNotFoundError", "TransportError"})


def _undecoded(ds: Any) -> Any:
    """Cast Image/Audio features to decode=False so rows carry the original file bytes."""
    from datasets import Audio, Image

    for col, feat in (ds.features or {}).items():
        if isinstance(feat, (Image, Audio)) and feat.decode:
            ds = ds.cast_column(col, dataclasses.replace(feat, decode=False))
    return ds


class HuggingFaceSource(Source):
    def __init__(self, cfg: HuggingFaceSourceConfig, name: str, folder: str | None = None):
        super().__init__(name, folder)
        self.cfg = cfg
        self._world = 1

    # ------------------------------------------------------------ where rows are

    @property
    def mode(self) -> str:
        if self.cfg.data_files is not None:
            return "files"
        path = Path(self.cfg.dataset)
        if path.is_dir():
            return "disk" if _is_saved_dataset(path) or _is_saved_dataset(path / self.cfg.split) else "files"
        if path.is_file():
            return "files"
        return "hub"

    def preflight(self) -> None:
        """Fail before any task starts when a hub dataset cannot be reached (not with HF_HUB_OFFLINE)."""
        if self.mode != "hub":
            return
        if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
            self._check_cached()
            return
        from huggingface_hub import HfApi
        from huggingface_hub.errors import RepositoryNotFoundError

        try:
            HfApi().dataset_info(self.cfg.dataset, revision=self.cfg.revision, timeout=15)
        except RepositoryNotFoundError:
            raise StageError(f"sources: Hugging Face dataset {self.cfg.dataset!r} not found on the hub (private? set HF_TOKEN; "
                             "a local folder? check the path)") from None
        except Exception as e:  # noqa: BLE001 - any failure to reach the hub gets the same advice
            if _network_error(e) or isinstance(e, OSError):
                raise StageError(f"{HUB_UNREACHABLE} ({type(e).__name__}: {e})") from None
            raise

    def _check_cached(self) -> None:
        """Offline, a hub dataset must be in `datasets`' cache: otherwise pull would keep 0 rows."""
        from datasets import load_dataset_builder

        try:
            load_dataset_builder(self.cfg.dataset, revision=self.cfg.revision)
        except Exception as e:  # noqa: BLE001 - datasets raises ConnectionError, FileNotFoundError, ...
            raise StageError(f"sources: HF_HUB_OFFLINE is set and Hugging Face dataset {self.cfg.dataset!r} is not in the "
                             f"local cache ({type(e).__name__}: {str(e)[:200]}); unset HF_HUB_OFFLINE to download it, "
                             "or point `dataset` at a local folder") from None

    def _files(self) -> list[str]:
        spec = self.cfg.data_files
        if spec is None:
            spec = self.cfg.dataset
        if isinstance(spec, dict):
            if self.cfg.split not in spec:
                raise StageError(f"sources: data_files has no split {self.cfg.split!r} (has {sorted(spec)})")
            spec = spec[self.cfg.split]
        out: list[str] = []
        for pattern in [spec] if isinstance(spec, str) else list(spec):
            if "://" in pattern:
                out.append(pattern)
            elif Path(pattern).is_dir():
                out += sorted(str(p) for p in Path(pattern).rglob("*") if p.is_file() and _builder_for(p.name))
            else:
                out += sorted(glob.glob(pattern, recursive=True)) or [pattern]
        return list(dict.fromkeys(out))

    def items(self) -> list[Any]:
        mode = self.mode
        if mode == "files":
            return [("file", f) for f in self._files()]
        if mode == "disk":
            folder = Path(self.cfg.dataset)
            if (folder / "dataset_dict.json").is_file():
                folder = folder / self.cfg.split
            state = json.loads((folder / "state.json").read_text())
            arrows = [str(folder / f["filename"]) for f in state["_data_files"]]
            cuts = max(1, math.ceil(self._world / len(arrows))) if arrows else 1
            return [("arrow", a, k, cuts) for a in arrows for k in range(cuts)]
        return [("hub", r, self._world) for r in range(self._world)]

    def describe(self, item: Any) -> str:
        return self._base_uri(item)

    def _base_uri(self, item: Any) -> str:
        if item[0] in ("file", "arrow"):
            return item[1]
        cfg = self.cfg
        return f"hf://datasets/{cfg.dataset}{'@' + cfg.revision if cfg.revision else ''}/{cfg.name or 'default'}/{cfg.split}"

    def _open(self, item: Any) -> tuple[Any, str, int]:
        """The rows of one item, as a datasets (Iterable)Dataset with media left undecoded, plus
        the prefix and first number of its rows' uris (`file#12`, `data.arrow#340`, `hub#r1-7`)."""
        import datasets

        if item[0] == "file":
            builder = self.cfg.dataset if self.cfg.dataset in set(BUILDERS.values()) else _builder_for(item[1])
            if builder is None:
                raise RecordError("unknown_format", f"{item[1]}: not parquet/json/jsonl/csv/arrow/txt; set `dataset` to the builder name")
            return _undecoded(datasets.load_dataset(builder, data_files=[item[1]], split="train", streaming=True)), "", 0
        if item[0] == "arrow":
            _, path, k, cuts = item
            ds = datasets.Dataset.from_file(path)
            div, mod = divmod(len(ds), cuts)
            first = div * k + min(k, mod)  # the same split as Dataset.shard(contiguous=True)
            if cuts > 1:
                ds = ds.shard(num_shards=cuts, index=k, contiguous=True)
            return _undecoded(ds), "", first
        _, rank, world = item
        cfg = self.cfg
        ds = datasets.load_dataset(cfg.dataset, cfg.name, split=cfg.split, revision=cfg.revision, streaming=cfg.streaming)
        if cfg.streaming:
            from datasets.distributed import split_dataset_by_node

            ds = split_dataset_by_node(ds, rank=rank, world_size=world)
        elif world > 1:
            ds = ds.shard(num_shards=world, index=rank, contiguous=True)
        return _undecoded(ds), f"r{rank}-", 0

    # ------------------------------------------------------------ reading

    def run(self, data=None, rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        self._world = world_size
        self._budget = None
        if self.cfg.max_records is not None:  # this rank's share of the total
            n = self.cfg.max_records
            self._budget = n // world_size + (1 if rank < n % world_size else 0)
        yield from super().run(data, rank, world_size)

    def read(self, item: Any) -> Iterable[Document]:
        base = self._base_uri(item)
        if self._budget is not None and self._budget <= 0:
            return
        try:
            ds, prefix, i = self._open(item)
        except Exception as e:  # noqa: BLE001 - datasets raises many types; each becomes an error row
            if isinstance(e, RecordError):
                raise
            if _network_error(e):
                raise RecordError("hub_unreachable", f"{HUB_UNREACHABLE} ({type(e).__name__}: {e})") from None
            raise RecordError("unreadable_dataset", f"{type(e).__name__}: {e}") from None
        rows = iter(ds)
        while self._budget is None or self._budget > 0:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as e:  # noqa: BLE001 - a broken file mid-way: record it, keep the rows before
                raise RecordError("unreadable_dataset", f"after row {i}: {type(e).__name__}: {e}") from None
            self.stat_update("rows_read")
            try:
                doc = self._record(row, base, f"{prefix}{i}")
            except RecordError as e:
                self.stat_update("rows_failed")
                self.fail(f"{base}#{prefix}{i}", e.reason, e.detail, kind=Kind.TEXT)
            else:
                if self._budget is not None:
                    self._budget -= 1
                yield doc
            i += 1

    def _record(self, row: dict[str, Any], base: str, i: str) -> Document:
        c = self.cfg.columns
        named = [n for n in (c.text, c.chat, c.image, c.audio, c.caption, c.id, c.lang, *c.keep) if n]
        missing = [n for n in named if n not in row]
        if missing:
            raise RecordError("missing_column", f"no column {missing} (columns: {sorted(row)[:30]})")
        text = render_chat(row[c.chat]) if c.chat else row.get(c.text) if c.text else None
        if text is not None and not isinstance(text, str):
            raise RecordError("bad_text", f"column {c.text!r} holds {type(text).__name__}, not a string")
        media = []
        for col, want in ((c.image, "image"), (c.audio, "audio")):
            if col and row.get(col) is not None:
                data, name = _media_bytes(row[col], col)
                sniffed = sniff(data[:HEAD_BYTES], name)
                facts: dict[str, Any] = {"mime": sniffed.mime}
                caption = row.get(c.caption) if c.caption else None
                if isinstance(caption, str) and caption.strip() and not media:
                    facts.update(caption=caption.strip(), caption_source="column")
                media.append(new_media(sniffed.kind, data=data, **facts))
        if not text and not media:
            raise RecordError("empty_row", "the row has no text and no media in the mapped columns")
        source_id = row.get(c.id) if c.id else None
        uri = f"{base}#{source_id}" if source_id is not None else f"{base}#{i}"
        kind = Kind(media[0].metadata["kind"]) if media else Kind.TEXT
        extra = {k: row.get(k) for k in c.keep}
        if source_id is not None:
            extra["source_id"] = str(source_id)
        content = (text or "").encode() + b"".join(m.media_bytes or b"" for m in media)
        return new_document(id=make_id(self.source, uri, content), kind=kind, source=self.source, uri=uri,
                            text=text or "", media=media, mime=media[0].metadata["mime"] if media else "text/plain",
                            lang=row.get(c.lang) if c.lang else None, extra=extra or None)


def _media_bytes(value: Any, col: str) -> tuple[bytes, str]:
    """An undecoded Image/Audio value ({bytes, path}), raw bytes, a local path, a PIL image or a
    decoded audio dict ({array, sampling_rate}) -> (file bytes, a name for the sniffer)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), col
    if isinstance(value, str):
        value = {"path": value, "bytes": None}
    if isinstance(value, dict):
        if value.get("bytes"):
            return bytes(value["bytes"]), value.get("path") or col
        if value.get("array") is not None:
            import numpy as np
            import soundfile as sf

            buf = io.BytesIO()
            sf.write(buf, np.asarray(value["array"]), int(value["sampling_rate"]), format="WAV")
            return buf.getvalue(), f"{col}.wav"
        path = value.get("path")
        if path and os.path.isfile(path):
            return Path(path).read_bytes(), path
        raise RecordError("missing_media", f"column {col!r}: no bytes and no readable file at {path!r}")
    if hasattr(value, "save"):  # a decoded PIL image: write it back losslessly
        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return buf.getvalue(), f"{col}.png"
    raise RecordError("bad_media", f"column {col!r} holds {type(value).__name__}, not image/audio data")
