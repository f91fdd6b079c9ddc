"""The typed pipeline config: YAML validated into pydantic models before any work starts.

An unknown key, a wrong type or a missing value is a `ConfigError` naming the key path and the bad
value (the CLI exits 2). `--set a.b=c` overrides any field; list items are addressed by index
(`sources.0.path=corpus/`). Each stage owns one section below; DESIGN.md gives the outline.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from thresher.errors import ConfigError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ---------------------------------------------------------------- executors


class LocalExecutor(Strict):
    """datatrove's LocalPipelineExecutor: a pool of processes on this machine."""

    type: Literal["local"] = "local"
    workers: int | None = Field(None, ge=1, description="processes at once; default: CPU count")
    tasks: int | None = Field(None, ge=1, description="shards of work per stage; default: workers")


class SlurmExecutor(Strict):
    """datatrove's SlurmPipelineExecutor: one array job per stage, `tasks` array tasks."""

    type: Literal["slurm"]
    partition: str
    tasks: int = Field(64, ge=1)
    workers: int = -1  # array tasks running at once; -1: no limit
    time: str = "24:00:00"
    cpus_per_task: int = 1
    mem_per_cpu_gb: int = 2
    qos: str = "normal"
    venv_path: str | None = None  # `source`d at the start of each job
    env_command: str | None = None
    sbatch_args: dict[str, str] = {}


class RayExecutor(Strict):
    """datatrove's RayPipelineExecutor on a running Ray cluster (`ray start --head` first)."""

    type: Literal["ray"]
    tasks: int = Field(64, ge=1)
    workers: int = -1
    cpus_per_task: int = 1
    mem_per_cpu_gb: float = 2
    address: str | None = None  # e.g. ray://head:10001; default: RAY_ADDRESS or a local instance


Executor = Annotated[LocalExecutor | SlurmExecutor | RayExecutor, Field(discriminator="type")]


# ---------------------------------------------------------------- sources


class LocalSource(Strict):
    """A folder tree; JSONL/Parquet/CSV files in it are tables whose rows are records."""

    type: Literal["local"]
    path: str
    name: str | None = None  # the `source` column; default "local:<folder name>"
    include: list[str] = ["**/*"]
    exclude: list[str] = []
    tables: bool = True  # read .jsonl/.jsonl.gz/.parquet/.csv as rows rather than as files
    text_column: str = "text"
    id_column: str | None = "id"
    sidecar_captions: bool = True  # photo.jpg + photo.txt: the .txt is the image's caption
    inline_max_bytes: int = Field(16 * 2**20, ge=0)  # larger files travel as path/offset/length


class HuggingFaceSource(Strict):
    type: Literal["huggingface"]
    dataset: str
    name: str | None = None
    split: str = "train"
    revision: str | None = None
    streaming: bool = False
    columns: dict[str, Any] = {"text": "text"}
    max_records: int | None = Field(None, ge=1)
    data_files: str | list[str] | dict[str, Any] | None = None
    source_name: str | None = None


class AnnasArchiveSource(Strict):
    type: Literal["annas_archive"]
    metadata: list[str] = []
    elasticsearch: list[str] = []
    files: list[str] = []
    languages: list[str] = []
    extensions: list[str] = []
    content_types: list[str] = []
    max_file_size: int | None = Field(None, ge=1)
    metadata_only: bool = False
    name: str | None = None


Source = Annotated[LocalSource | HuggingFaceSource | AnnasArchiveSource, Field(discriminator="type")]


def source_name(src: LocalSource | HuggingFaceSource | AnnasArchiveSource) -> str:
    """The value of the `source` column for records from `src`."""
    if isinstance(src, LocalSource):
        return src.name or f"local:{Path(src.path).name or src.path}"
    if isinstance(src, HuggingFaceSource):
        return src.source_name or f"hf:{src.dataset}"
    return src.name or "annas_archive"


# ---------------------------------------------------------------- stages


class ExtractConfig(Strict):
    html_main_text: bool = True  # trafilatura main-text extraction; False keeps all visible text
    min_chars: int = Field(1, ge=0)  # shorter extracted text is an `empty` error
    max_text_bytes: int = Field(64 * 2**20, ge=1)  # bigger text files are refused as `too_large`
    # isolation: each record is extracted in a worker subprocess under these limits
    isolate: bool = True  # False runs extractors in the stage process (debugging only: no limits)
    time_limit_s: float = Field(60.0, gt=0)  # per record; over it -> `timeout`, the worker is replaced
    memory_limit_mb: int = Field(4096, ge=0)  # RLIMIT_AS of the worker; over it -> `out_of_memory`; 0: none
    # images (also the images inside PDFs, EPUBs and GIF frames)
    max_image_side: int = Field(1024, ge=8)  # longer side above this is downscaled (px)
    max_image_pixels: int = Field(89_478_485, ge=1)  # declared width*height above this -> `too_large`
    image_format: Literal["png", "webp"] = "png"  # normalised bytes in media (lossless either way)
    min_embedded_image_side: int = Field(32, ge=1)  # PDF/EPUB images smaller on both sides are skipped
    max_embedded_images: int = Field(256, ge=0)  # per document; later images are counted, not kept
    max_gif_frames: int = Field(64, ge=1)  # frames kept per animated GIF, sampled evenly
    # PDF
    ocr: bool = True  # OCR pages without a text layer when Tesseract is installed; else flag needs_ocr
    garbled_max_ratio: float = Field(0.3, ge=0, le=1)  # replacement/private-use share above -> `garbled_text`
    # audio: 16 kHz mono FLAC
    audio_segment_s: float = Field(30.0, gt=0)  # longer audio is cut into segments of this length
    max_audio_s: float = Field(4 * 3600.0, gt=0)  # longer recordings -> `too_large`
    silence_db: float = -50.0  # 25 ms frames quieter than this (dBFS) count as silence
    # blobs and archives (also the zip inside an EPUB)
    blob_head_bytes: int = Field(4096, ge=0)  # first bytes kept in media for the tokenizer
    expand_archives: bool = True  # zip/tar/gz members become records of their own (parent_id)
    archive_max_members: int = Field(10_000, ge=1)
    archive_max_total_mb: int = Field(1024, ge=1)  # declared uncompressed size of all members
    archive_max_ratio: float = Field(200.0, ge=1)  # uncompressed/compressed above this -> `zip_bomb`
    archive_max_depth: int = Field(2, ge=0)  # archives inside archives, expanded this many levels


class DedupConfig(Strict):
    enabled: bool = True


class FilterConfig(Strict):
    enabled: bool = True


class TokenizerConfig(Strict):
    vocab_size: int = Field(32000, ge=300)


class CaptionConfig(Strict):
    enabled: bool = True


class ShardConfig(Strict):
    val_fraction: float = Field(0.01, ge=0, lt=1)


class TrainConfig(Strict):
    preset: str = "tiny"


class Config(Strict):
    workdir: str
    executor: Executor = LocalExecutor()
    sources: list[Source] = []
    extract: ExtractConfig = ExtractConfig()
    dedup: DedupConfig = DedupConfig()
    filter: FilterConfig = FilterConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    caption: CaptionConfig = CaptionConfig()
    shard: ShardConfig = ShardConfig()
    train: TrainConfig = TrainConfig()

    @model_validator(mode="after")
    def _unique_source_names(self) -> "Config":
        names = [source_name(s) for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"two sources share the name {dupes}; give each a distinct `name`")
        return self

    @property
    def work(self) -> Path:
        return Path(self.workdir)

    @property
    def workers(self) -> int:
        ex = self.executor
        if isinstance(ex, LocalExecutor):
            return ex.workers or os.cpu_count() or 1
        return ex.workers

    @property
    def tasks(self) -> int:
        ex = self.executor
        if isinstance(ex, LocalExecutor):
            return ex.tasks or self.workers
        return ex.tasks


# ---------------------------------------------------------------- loading


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.0.c` in a nested dict/list tree, creating dicts on the way.

    >>> t = {"sources": [{"path": "x"}]}; _set_path(t, "sources.0.path", "y"); t
    {'sources': [{'path': 'y'}]}
    """
    keys = dotted.split(".")
    node: Any = tree
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ConfigError(f"--set {dotted}: `{key}` is not an index of a list of {len(node)} items")
            key = int(key)
        elif not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: `{'.'.join(keys[:i])}` is not a mapping")
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and (key not in node or node[key] is None):
                node[key] = {}
            node = node[key]


def parse_overrides(overrides: list[str]) -> list[tuple[str, Any]]:
    """`["a.b=3", "c=[x, y]"]` -> `[("a.b", 3), ("c", ["x", "y"])]`; values are YAML scalars/lists."""
    pairs = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key.path=value, got {item!r}")
        pairs.append((key.strip(), yaml.safe_load(raw) if raw.strip() else ""))
    return pairs


def _format_errors(err: ValidationError, origin: str) -> str:
    lines = [f"invalid config ({origin}):"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if not (isinstance(p, str) and p in ("local", "slurm", "ray", "huggingface", "annas_archive")))
        value = e.get("input")
        shown = "" if e["type"] == "missing" else f" (got {value!r})"
        lines.append(f"  {loc or '<root>'}: {e['msg']}{shown}")
    return "\n".join(lines)


def load_config(source: str | Path | dict[str, Any], overrides: list[str] = ()) -> Config:
    """Read, override and validate a config; raise ConfigError naming the key and the bad value."""
    if isinstance(source, dict):
        tree, origin = dict(source), "<dict>"
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found")
        try:
            tree = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {path} is not valid YAML: {e}") from e
        if not isinstance(tree, dict):
            raise ConfigError(f"config file {path} must hold a mapping, not {type(tree).__name__}")
        origin = str(path)
    for key, value in parse_overrides(list(overrides)):
        _set_path(tree, key, value)
    if isinstance(tree.get("executor"), dict):
        tree["executor"].setdefault("type", "local")  # `executor: {workers: 4}` means local
    try:
        return Config.model_validate(tree)
    except ValidationError as e:
        raise ConfigError(_format_errors(e, origin)) from None


def save_config(cfg: Config, path: Path) -> None:
    """Write the resolved config (what actually ran) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    tmp.replace(path)
