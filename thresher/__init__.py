"""thresher: a multimodal pretraining-corpus builder and compact MoE trainer (see DESIGN.md)."""

__version__ = "0.1.0"

from thresher import logs as _logs  # noqa: E402

_logs.install()
