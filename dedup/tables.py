"""Tables built from `unicodedata` once, kept on disk beside the code that builds them.

The normalisation tables of the dedup kernels (shingles.py, fold.py) take 0.2-0.4 s each to build
in Python, in every process: a fixed cost of every dedup run, a quarter of the stage on 15 MB.
`kept_on_disk` keeps such a table in `__pycache__` beside its module, as numba keeps its machine
code there, and loads it in about a millisecond. The file name carries what the table depends on
(the bytes of the modules that build it, the Unicode version), so another version builds its own;
where the folder is read-only the table is built each time.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path
from typing import Callable

import numpy as np


def kept_on_disk(name: str, build: Callable[[], np.ndarray], *modules: str) -> np.ndarray:
    """build(), or what an earlier process saved of it: `__pycache__/<name>-<unicode>-<hash>.npy`
    beside the first of `modules` (file paths), the hash over all their bytes. A file that cannot
    be read as an array is built again."""
    here = Path(modules[0])
    tag = hashlib.blake2b(b"".join(Path(m).read_bytes() for m in modules), digest_size=8).hexdigest()
    path = here.parent / "__pycache__" / f"{name}-{unicodedata.unidata_version}-{tag}.npy"
    try:
        return np.load(path)
    except (OSError, ValueError):
        pass
    table = build()
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, table)
        os.replace(tmp, path)
    except OSError:
        pass
    return table
