"""The base class of an extractor: raw bytes of one kind -> a clean record of the schema."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterable

from datatrove.data import Document

from thresher.records import Kind


class Extractor(ABC):
    """One per kind. `extract` fills `doc` (text, media, per-kind columns) from `data`, or raises
    `thresher.errors.RecordError(reason, detail)` for input it cannot use. It may return several
    records (an archive's members, the segments of a long recording)."""

    kinds: tuple[Kind, ...] = ()

    @abstractmethod
    def extract(self, doc: Document, data: bytes, mime: str) -> Document | Iterable[Document]:
        """Fill and return `doc` (or several records) from the raw bytes `data` of type `mime`."""
