"""Quiet by default: datatrove's per-task logs go to their files under `_logs/<stage>/logs/`, and only
warnings reach the console. THRESHER_LOG_LEVEL=INFO brings datatrove's console output back.

datatrove sets its console sink inside `add_task_logger` at INFO with no setting to change it, so we
replace that function (and `setup_default_logger`, which it calls when a task ends) by versions
that take the level from the environment; workers inherit the environment and import this module
through `thresher` before they unpickle any datatrove executor.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Callable

from loguru import logger

_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | <level>{level: <8}</level> | {name}:{function}:{line} - <level>{message}</level>"


def console_level() -> str:
    return os.environ.get("THRESHER_LOG_LEVEL", "WARNING").upper()


def _console(record) -> bool:
    """The console sink's filter: a task's traceback (datatrove logs a crashed task with
    `logger.exception`) stays in the task's log file under `_logs/`; thresher prints the one-line
    error. `thresher --debug` (THRESHER_DEBUG=1, inherited by the workers) shows it on the console."""
    return record["exception"] is None or os.environ.get("THRESHER_DEBUG", "") not in ("", "0")


# Sinks are added once and kept: loguru's `add` costs 25-50 ms (its exception formatter reads every
# sysconfig scheme's paths), and datatrove sets the sinks up again at each task's start and end, so a
# four-pass stage paid about 0.1 s for them per worker. `_sinks` maps a sink's name to (its settings,
# its loguru handler id); a sink is added again only when its settings change.
_sinks: dict[str, tuple[tuple, int]] = {}
_task_file: IO | None = None  # where the task sink writes; None between tasks


def _write_task_file(message) -> None:
    if _task_file is not None:
        _task_file.write(message)


def _alive(handler_id: int) -> bool:
    """Whether loguru still has the handler (a `logger.remove()` elsewhere drops ours). loguru has no
    public list of handlers: its core's dict is read, and without it the sink is taken as gone (then
    added again each time: slower, never lost)."""
    handlers = getattr(getattr(logger, "_core", None), "handlers", None)
    return isinstance(handlers, dict) and handler_id in handlers


def _sink(name: str, settings: tuple, add: Callable[[], int]) -> None:
    """Keep sink `name` as `settings` describe it: as it is if they are unchanged, else added anew."""
    held = _sinks.get(name)
    if held is not None and held[0] == settings and _alive(held[1]):
        return
    if held is not None:
        try:
            logger.remove(held[1])
        except ValueError:  # removed already (a `logger.remove()` elsewhere)
            pass
    _sinks[name] = (settings, add())


def _console_sink(level: str, prefix: str) -> None:
    stream = sys.stderr
    _sink("console", (level, prefix, stream),  # the stream itself: a new one may reuse a freed one's id
          lambda: logger.add(stream, level=level, format=prefix + _FORMAT, filter=_console))


def _default_logger() -> None:
    global _task_file
    _task_file = None
    _console_sink(console_level(), "")


def _task_logger(logging_dir, rank: int, local_rank: int = 0, node_rank: int = -1):
    global _task_file
    logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
    prefix = f"[NODE {node_rank}] " if node_rank != -1 else ""
    _console_sink(console_level() if local_rank == 0 else "ERROR", prefix)
    _sink("task", (prefix,), lambda: logger.add(_write_task_file, level="DEBUG", format=prefix + _FORMAT,
                                                colorize=False))
    _task_file = logfile
    logger.info(f"Launching pipeline for {rank=}")
    return logfile


def install() -> None:
    """Patch datatrove's logging setup. Patching `datatrove.utils.logging` before the executors are
    imported is enough: they bind the names with `from ... import` when they are first imported, so
    `import thresher` stays cheap (no datatrove.executor import, which costs about 0.5 s)."""
    import datatrove.utils.logging as dt_logging

    logger.remove()  # loguru's own default sink: ours replaces it
    dt_logging.add_task_logger = _task_logger
    dt_logging.setup_default_logger = _default_logger
    for module_name in ("datatrove.executor.base", "datatrove.executor.jobs", "datatrove.executor.ray"):
        module = sys.modules.get(module_name)  # imported before thresher: patch the bound name too
        if module is not None and hasattr(module, "add_task_logger"):
            module.add_task_logger = _task_logger
    _default_logger()
