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

from loguru import logger

_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | <level>{level: <8}</level> | {name}:{function}:{line} - <level>{message}</level>"


def console_level() -> str:
    return os.environ.get("THRESHER_LOG_LEVEL", "WARNING").upper()


def _console(record) -> bool:
    """The console sink's filter: a task's traceback (datatrove logs a crashed task with
    `logger.exception`) stays in the task's log file under `_logs/`; thresher prints the one-line
    error. `thresher --debug` (THRESHER_DEBUG=1, inherited by the workers) shows it on the console."""
    return record["exception"] is None or os.environ.get("THRESHER_DEBUG", "") not in ("", "0")


def _default_logger() -> None:
    logger.remove()
    logger.add(sys.stderr, level=console_level(), format=_FORMAT, filter=_console)


def _task_logger(logging_dir, rank: int, local_rank: int = 0, node_rank: int = -1):
    logger.remove()
    logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
    prefix = f"[NODE {node_rank}] " if node_rank != -1 else ""
    logger.add(sys.stderr, level=console_level() if local_rank == 0 else "ERROR", format=prefix + _FORMAT, filter=_console)
    logger.add(logfile, level="DEBUG", format=prefix + _FORMAT, colorize=False)
    logger.info(f"Launching pipeline for {rank=}")
    return logfile


def install() -> None:
    """Patch datatrove's logging setup. Patching `datatrove.utils.logging` before the executors are
    imported is enough: they bind the names with `from ... import` when they are first imported, so
    `import thresher` stays cheap (no datatrove.executor import, which costs about 0.5 s)."""
    import datatrove.utils.logging as dt_logging

    dt_logging.add_task_logger = _task_logger
    dt_logging.setup_default_logger = _default_logger
    for module_name in ("datatrove.executor.base", "datatrove.executor.jobs", "datatrove.executor.ray"):
        module = sys.modules.get(module_name)  # imported before thresher: patch the bound name too
        if module is not None and hasattr(module, "add_task_logger"):
            module.add_task_logger = _task_logger
    _default_logger()
