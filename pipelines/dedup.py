"""The dedup stage: records from `extract/` -> survivors in `dedup/`, duplicates in `dedup/_removed/`.

Four passes, each a datatrove pipeline on the configured executor (so the same stage runs on one
machine or across Slurm/Ray): fingerprints per rank -> verified pairs per LSH band -> clusters and
survivors -> filter per rank (thresher.dedup.steps). Candidate pairs of text, books and MIDI are
verified on their exact shingle sets (kept in the index), and a record is removed only if it is a
near duplicate of its cluster's survivor (`dedup.verify`). The fingerprints stay in `dedup/_index/`, so
a later run can dedup a new batch against this one (`dedup.index`). Removed rows carry
`cluster_id` and `duplicate_of` (the survivor's id) and reason exact_duplicate or near_duplicate;
records dedup cannot read (empty text, missing or undecodable media) go to `dedup/_errors/`.
"""

from __future__ import annotations

import json

from thresher.dedup.config import DedupConfig
from thresher.dedup.features import Params
from thresher.dedup.index import check_earlier, write_params
from thresher.dedup.lsh import optimal_bands
from thresher.dedup.steps import (
    DedupBuckets,
    DedupCluster,
    DedupFilter,
    DedupSignatures,
)
from thresher.dedup.verify import Checks
from thresher.pipelines.config import Config, LocalExecutor
from thresher.pipelines.engine import StagePlan, logs_dir
from thresher.pipelines.stages import folder, input_folder

from thresher.io import RecordReader, RecordWriter


def params(d: DedupConfig) -> Params:
    bands, rows = (d.bands, d.rows) if d.bands is not None else optimal_bands(d.threshold, d.num_perm)
    return Params(num_perm=d.num_perm, seed=d.seed, ngram=d.ngram, bands=bands, rows=rows, midi_ngram=d.midi_ngram,
                  image_max_distance=d.image_max_distance, survivor=d.survivor, source_priority=tuple(d.source_priority),
                  shingle_sets=d.verify == "exact")


def plan(cfg: Config) -> StagePlan:
    src, out = input_folder(cfg, "dedup"), folder(cfg, "dedup")
    if not cfg.dedup.enabled:
        return StagePlan("dedup", [RecordReader(src, arrow=True), RecordWriter(out)], cfg.tasks, out, input=src)
    d, index = cfg.dedup, out / "_index"
    p = params(d)
    check_earlier(d.index, p)
    write_params(index, p)
    # The filter pass must deal the extract files to ranks exactly as the fingerprint pass did.
    record = logs_dir(cfg, "dedup/signatures") / "tasks.json"
    tasks = json.loads(record.read_text())["tasks"] if record.is_file() else cfg.tasks
    checks = Checks(threshold=d.threshold, midi_threshold=d.midi_threshold, image_max_distance=d.image_max_distance,
                    verify=d.verify, window=d.window)
    parts = [
        # both record passes take arrow batches (dedup/steps.py says why)
        StagePlan("dedup/signatures", [RecordReader(src, arrow=True, batch_rows=d.batch_docs),
                                       DedupSignatures(p, index, out)],
                  tasks, index, input=src, counts_input=False),
        # one task per band scales out on slurm/ray; on one machine a single in-process task beats
        # starting a worker pool for a second of numpy work per band
        StagePlan("dedup/buckets", [DedupBuckets(index, d.index, checks, p.slots)],
                  1 if isinstance(cfg.executor, LocalExecutor) else min(p.slots, cfg.tasks), index / "pairs",
                  counts_input=False),
        StagePlan("dedup/cluster", [DedupCluster(index, d.index, checks, p.slots)], 1, index / "assign", counts_input=False),
        StagePlan("dedup/filter", [RecordReader(src, arrow=True, batch_rows=d.batch_docs), DedupFilter(index, out),
                                   RecordWriter(out)],
                  tasks, out, input=src),
    ]
    return StagePlan("dedup", [], tasks, out, input=src, then=parts)
