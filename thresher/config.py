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
    # how the worker pool starts (with workers > 1): forkserver (datatrove's default; safe with
    # threads, but each pooled pass pays a second or more of start-up), fork (fastest start; unsafe
    # after torch or other threaded libraries have started threads in this process), or spawn
    start_method: Literal["forkserver", "fork", "spawn"] = "forkserver"


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


class HFColumns(Strict):
    """Which dataset column fills which part of a record (None: not used)."""

    text: str | None = None  # a string column -> a text record (or the text beside an image/audio)
    chat: str | None = None  # a list of {role, content} (or {from, value}) -> text, see sources/huggingface.py
    image: str | None = None  # an Image feature, {bytes, path}, raw bytes or a path -> image/gif media
    audio: str | None = None  # an Audio feature, {bytes, path}, raw bytes or a path -> audio media
    caption: str | None = None  # the media's caption (caption_source "column")
    id: str | None = None  # kept as `source_id` in the metadata and used in the record's uri
    lang: str | None = None  # the `lang` column
    keep: list[str] = []  # more columns kept in the metadata

    @model_validator(mode="after")
    def _default_text(self) -> "HFColumns":
        if not (self.text or self.chat or self.image or self.audio):
            self.__dict__["text"] = "text"  # nothing mapped: the usual `text` column
        return self


class HuggingFaceSource(Strict):
    """A Hugging Face dataset: on the hub, a folder written by `save_to_disk`, or local
    parquet/json/csv files through `data_files`."""

    type: Literal["huggingface"]
    dataset: str  # hub id (owner/name), a local dataset folder, or the builder (parquet/json/csv) with data_files
    name: str | None = None  # the dataset's config name
    split: str = "train"
    revision: str | None = None
    streaming: bool = False  # hub datasets: stream instead of downloading first
    columns: HFColumns = HFColumns()
    max_records: int | None = Field(None, ge=1)  # across all ranks (each rank takes its share)
    data_files: str | list[str] | dict[str, Any] | None = None
    source_name: str | None = None  # the `source` column; default "hf:<dataset>"


class AnnasArchiveSource(Strict):
    """Anna's Archive: AAC metadata files, elasticsearch dumps and downloaded files, joined by md5."""

    type: Literal["annas_archive"]
    metadata: list[str] = []  # globs of AAC files: *.jsonl.seekable.zst, *.jsonl.zst, *.jsonl
    elasticsearch: list[str] = []  # globs of aarecords*.json.gz (elasticdump NDJSON)
    files: list[str] = []  # folders / .tar / .zip of files named by md5, AAC data folders
    languages: list[str] = []  # ISO codes (or names); files whose language is unknown are dropped
    extensions: list[str] = []  # pdf, epub, ... (from metadata, else the file name)
    content_types: list[str] = []  # book_nonfiction, book_fiction, journal_article, ...
    max_file_size: int | None = Field(None, ge=1)  # bytes
    metadata_only: bool = False  # emit metadata lines without a file as text records of their description
    name: str | None = None
    part_mb: float = Field(256, gt=0)  # a seekable zstd dump is cut into parts of about this many MB (decompressed)
    inline_max_bytes: int = Field(16 * 2**20, ge=0)  # larger files travel as path/offset/length


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
    max_image_side: int = Field(512, ge=8)  # longer side above this is downscaled (px); the tokenizer uses 32
    max_image_pixels: int = Field(89_478_485, ge=1)  # declared width*height above this -> `too_large`
    image_format: Literal["webp", "png"] = "webp"  # normalised bytes in media, lossless (webp: 3x faster to write)
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
    """Exact and near-duplicate removal (dedup/). Defaults as FineWeb: word 5-grams, 112
    permutations as 14 bands x 8 rows; set bands and rows to null to pick them from `threshold`."""

    enabled: bool = True
    threshold: float = Field(0.8, gt=0, lt=1)  # text/PDF/EPUB: estimated Jaccard a candidate pair must reach
    num_perm: int = Field(112, ge=8, le=1024)
    bands: int | None = Field(14, ge=1)
    rows: int | None = Field(8, ge=1)
    ngram: int = Field(5, ge=1, le=32)  # words per shingle
    seed: int = 1  # MinHash permutations, drawn as datasketch.MinHash(num_perm, seed) draws them
    verify: bool = True  # keep an LSH pair only if its signature estimate reaches the threshold
    window: int = Field(4, ge=1, le=64)  # each record is compared with the next `window` in its bucket
    midi_ngram: int = Field(4, ge=1, le=32)  # pitch intervals per shingle
    midi_threshold: float = Field(0.8, gt=0, lt=1)
    image_max_distance: int = Field(4, ge=0, le=15)  # pHash bits two near-duplicate images may differ in
    survivor: Literal["longest", "quality", "source"] = "longest"
    source_priority: list[str] = []  # survivor: source -> this order, first wins
    index: list[str] = []  # earlier runs' WORKDIR/dedup/_index folders to dedup against (incremental)
    batch_docs: int = Field(256, ge=1)

    @model_validator(mode="after")
    def _bands_fit(self) -> "DedupConfig":
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both dedup.bands and dedup.rows, or neither (then `threshold` picks them)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"dedup.bands x dedup.rows = {self.bands * self.rows} exceeds dedup.num_perm = {self.num_perm}")
        return self


class _Rules(Strict):
    """A filter's thresholds. A key left unset takes the preset's value (thresher.filters.presets);
    0 (or false) turns that rule off."""

    enabled: bool | None = None

    def resolved(self, preset: dict[str, Any]) -> dict[str, Any]:
        """The preset's values with the keys this config sets (None, as a saved config writes an
        unset key, means "the preset's value")."""
        return {**preset, **{k: v for k, v in self.model_dump().items() if v is not None}}


class GopherQualityRules(_Rules):
    min_doc_words: int | None = Field(None, ge=0)
    max_doc_words: int | None = Field(None, ge=0)
    min_avg_word_length: float | None = Field(None, ge=0)
    max_avg_word_length: float | None = Field(None, ge=0)
    max_symbol_word_ratio: float | None = Field(None, ge=0)
    max_bullet_lines_ratio: float | None = Field(None, ge=0)
    max_ellipsis_lines_ratio: float | None = Field(None, ge=0)
    max_non_alpha_words_ratio: float | None = Field(None, ge=0, le=1)  # datatrove's name; a minimum
    min_stop_words: int | None = Field(None, ge=0)


class GopherRepetitionRules(_Rules):
    dup_line_frac: float | None = Field(None, ge=0)
    dup_para_frac: float | None = Field(None, ge=0)
    dup_line_char_frac: float | None = Field(None, ge=0)
    dup_para_char_frac: float | None = Field(None, ge=0)
    top_n_grams: list[tuple[int, float]] | None = None  # [(n, max char fraction of the top n-gram)]
    dup_n_grams: list[tuple[int, float]] | None = None  # [(n, max char fraction in repeated n-grams)]


class C4Rules(_Rules):
    keep_text: bool | None = None  # True: never rewrite the text (C4 drops lines and blank lines)
    remove_citations: bool | None = None
    filter_no_terminal_punct: bool | None = None
    min_num_sentences: int | None = None  # -1: off
    min_words_per_line: int | None = None  # -1: off
    max_word_length: int | None = None  # -1: off
    filter_lorem_ipsum: bool | None = None
    filter_javascript: bool | None = None
    filter_curly_bracket: bool | None = None
    filter_policy: bool | None = None


class FineWebRules(_Rules):
    line_punct_thr: float | None = Field(None, ge=0, le=1)
    line_punct_exclude_zero: bool | None = None
    short_line_thr: float | None = Field(None, ge=0)
    short_line_length: int | None = Field(None, ge=0)
    char_duplicates_ratio: float | None = Field(None, ge=0)
    new_line_ratio: float | None = Field(None, ge=0)


class GarbageRules(_Rules):
    """thresher's own rules for what datatrove's filters miss: site chrome and broken encodings."""

    max_chrome_frac: float | None = Field(None, ge=0, le=1)  # chars in menu/banner/UI lines
    max_mojibake_ratio: float | None = Field(None, ge=0)  # ftfy badness hits per 100 chars
    max_replacement_ratio: float | None = Field(None, ge=0, le=1)  # U+FFFD per char
    min_vowel_ratio: float | None = Field(None, ge=0, le=1)  # vowels / Latin letters; below: gibberish


class LangRules(Strict):
    enabled: bool = True
    allow: list[str] = []  # e.g. [en, fr]; empty: every language is kept (the default)
    min_score: float = Field(0.0, ge=0, le=1)  # with `allow`: a lower top score is rejected too
    max_chars: int = Field(2000, ge=50)  # characters of each record the identifier reads


class ClassifierRules(Strict):
    model: str | None = None  # a model from `thresher classifier train`; None: no classifier
    threshold: float = Field(0.5, ge=0, le=1)  # records with P(hq) below it are rejected


class MediaRules(_Rules):
    image_min_side: int | None = Field(None, ge=0)  # pixels
    image_max_aspect: float | None = Field(None, ge=0)  # long side / short side
    image_min_contrast: float | None = Field(None, ge=0)  # std of grey levels (0..255); flat images below
    gif_min_frames: int | None = Field(None, ge=0)
    gif_max_frames: int | None = Field(None, ge=0)
    gif_max_duration_s: float | None = Field(None, ge=0)
    audio_min_duration_s: float | None = Field(None, ge=0)
    audio_max_duration_s: float | None = Field(None, ge=0)
    audio_max_silence: float | None = Field(None, ge=0, le=1)  # fraction of near-silent frames
    audio_max_clipping: float | None = Field(None, ge=0, le=1)  # fraction of samples at full scale
    midi_min_notes: int | None = Field(None, ge=0)
    midi_min_duration_s: float | None = Field(None, ge=0)
    midi_max_polyphony: int | None = Field(None, ge=0)
    blob_min_bytes: int | None = Field(None, ge=0)
    blob_max_bytes: int | None = Field(None, ge=0)
    doc_min_chars: int | None = Field(None, ge=0)  # PDF/EPUB text below it and no images: rejected
    doc_max_garbled: float | None = Field(None, ge=0, le=1)  # share of garbled characters


class FilterConfig(Strict):
    """The filter stage; `preset` fills every threshold a section leaves unset."""

    enabled: bool = True
    preset: Literal["garbage_only", "datatrove"] = "garbage_only"
    gopher_quality: GopherQualityRules = GopherQualityRules()
    gopher_repetition: GopherRepetitionRules = GopherRepetitionRules()
    c4: C4Rules = C4Rules()
    fineweb: FineWebRules = FineWebRules()
    garbage: GarbageRules = GarbageRules()
    lang: LangRules = LangRules()
    classifier: ClassifierRules = ClassifierRules()
    media: MediaRules = MediaRules()


class TokenizerConfig(Strict):
    """The vocabulary models (thresher.tokenizer): BPE, image palette, audio codebook, MIDI events."""

    vocab_size: int = Field(32000, ge=300, le=1_000_000)  # text range: specials + markers + 256 bytes + merges
    sample_sentences: int = Field(2_000_000, ge=1000)  # sentencepiece input_sentence_size (seeded sample)
    character_coverage: float = Field(0.9995, gt=0, le=1)  # rarer characters fall back to bytes
    seed: int = 0
    threads: int | None = Field(None, ge=1)  # sentencepiece training threads; default: CPU count
    palette_size: int = Field(512, ge=8, le=4096)  # image colours (k-means over RGB pixels)
    image_side: int = Field(32, ge=4, le=256)  # an image is image_side x image_side palette codes
    gif_side: int = Field(16, ge=4, le=128)
    gif_max_frames: int = Field(8, ge=1, le=64)
    pixel_samples: int = Field(200_000, ge=1000)  # pixels kept for k-means
    codebook_size: int = Field(1024, ge=8, le=16384)  # audio codes (k-means over log-mel frames)
    audio_frames_per_s: int = Field(25, ge=1, le=200)
    audio_max_seconds: float = Field(30.0, gt=0)  # longer audio is cut
    frame_samples: int = Field(200_000, ge=1000)  # log-mel frames kept for k-means
    midi_max_events: int = Field(4096, ge=16)  # longer pieces are cut at a whole event
    blob_max_bytes: int = Field(256, ge=1)  # a blob is its mime type and its first bytes


class CaptionConfig(Strict):
    """The bootstrapped captioner (pipelines/captioner): train on the corpus's image-caption pairs,
    caption images without one, score every caption by PMI and keep the best per image."""

    enabled: bool = True  # false: records pass through unchanged
    rounds: int = Field(1, ge=1, le=3)  # 2: retrain on the kept pairs and caption again (CapFilt)
    # cross-fitting: k models, each trained without one k-th of the pairs, and every image captioned
    # and scored by the model that never saw it (a memorised bad alt text cannot score high); k x the time
    folds: int = Field(1, ge=1, le=5)
    image_side: int = Field(16, ge=4, le=64, multiple_of=2)  # the captioner sees S x S palette codes (S even)
    encoder_width: int = Field(64, ge=8)  # channels of the image encoder's conv net (captioner/encoder.py)
    preset: Literal["tiny", "small", "1b"] = "tiny"
    model: dict[str, Any] = {}  # overrides of the preset's ModelConfig fields, e.g. {n_layers: 3}
    steps: int = Field(1200, ge=1)  # AdamW steps per round (the benchmark setting: ~4 min on 2 cores)
    batch_size: int = Field(32, ge=1)  # pairs per step
    lr: float = Field(1e-3, gt=0)  # 3e-3 learned colours but not shapes (the conv encoder needs the lower rate)
    warmup_steps: int = Field(20, ge=0)
    weight_decay: float = Field(0.1, ge=0)
    null_image: float = Field(0.25, ge=0, le=1)  # share of each batch also shown with the image blanked (baseline)
    max_pairs: int = Field(100_000, ge=1)  # training pairs held in memory (the first ones in input order)
    max_caption_tokens: int = Field(32, ge=2, le=256)  # longer captions are cut for training and scoring
    candidates: int = Field(4, ge=0, le=64)  # sampled captions per image
    greedy: bool = True  # also the most likely caption (argmax decoding) as a candidate
    temperature: float = Field(1.0, ge=0)
    top_p: float = Field(0.9, gt=0, le=1)
    min_score: float = Field(0.05)  # PMI (nats/token) under which a pair is dropped (caption removed)
    baseline: Literal["images", "null"] = "images"  # log p(c): mean over reference images, or the image blanked
    reference_images: int = Field(4, ge=1, le=1024)  # images of the corpus the `images` baseline averages over
    recaption: Literal["missing", "all"] = "all"  # which images get synthetic candidates
    prefer_original: bool = True  # an original that passes min_score is kept; else the best candidate
    # the best candidate: highest log p(c|I) - select_weight * log p(c) per token (1: the PMI score
    # itself; 0: the most likely caption for the picture; between: MMI decoding's compromise)
    select_weight: float = Field(0.25, ge=0, le=1)
    batch_images: int = Field(64, ge=1)  # images captioned together
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1)  # torch CPU threads per task; default: torch's
    seed: int = 0


class ShardConfig(Strict):
    """Packed Megatron shards (thresher.tokenizer.shards)."""

    val_fraction: float = Field(0.01, ge=0, lt=1)  # documents to the val split (seeded, by id)
    seed: int = 0
    max_tokens_per_file: int = Field(2**28, ge=1024)  # a rank starts a new .bin/.idx pair past this
    caption_first: float = Field(0.5, ge=0, le=1)  # share of captioned images with the caption before


class TrainConfig(Strict):
    """The trainer (train/loop.py); the model shape is a preset (train/presets.py) plus `model` overrides."""

    preset: Literal["tiny", "small", "1b"] = "tiny"
    model: dict[str, Any] = {}  # overrides of the preset's ModelConfig fields, e.g. {n_experts: 16}
    run: str = "run"  # outputs go to WORKDIR/train/<run>/
    steps: int = Field(200, ge=1)  # optimizer steps
    batch_size: int = Field(8, ge=1)  # sequences per micro-batch per process
    grad_accum: int = Field(1, ge=1)  # micro-batches per optimizer step
    seq_len: int | None = Field(None, ge=8)  # default: the preset's
    lr: float = Field(3e-3, gt=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)  # final lr = lr * min_lr_ratio
    warmup_steps: int = Field(20, ge=0)
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
    decay_fraction: float = Field(0.2, gt=0, le=1)  # wsd: the last fraction of steps decays linearly
    weight_decay: float = Field(0.1, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = Field(1.0, ge=0)  # 0: no clipping
    seed: int = 0
    log_every: int = Field(10, ge=1)
    eval_every: int = Field(100, ge=0)  # 0: only at the end
    eval_batches: int = Field(8, ge=1)
    ckpt_every: int = Field(100, ge=0)  # 0: only at the end
    keep_checkpoints: int = Field(2, ge=1)
    resume: bool = True  # continue from the run's latest checkpoint if it has one (False: refuse to)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "bf16", "fp32"] = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    compile: bool = False  # torch.compile the model
    threads: int | None = Field(None, ge=1)  # CPU intra-op threads; 1 is fastest on a busy shared machine
    parallel: Literal["ddp", "fsdp"] = "ddp"  # under torchrun with more than one process
    nproc: int = Field(1, ge=1)  # processes per node; > 1: the stage launches torchrun
    sample_tokens: int = Field(64, ge=0)  # after training, sample up to this many tokens into train/<run>/samples/


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
