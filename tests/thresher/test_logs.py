"""The console sink (thresher/logs.py): a crashed task's traceback stays off the console unless
`--debug` (THRESHER_DEBUG) asks for it; warnings always reach it."""

from __future__ import annotations

import io
import os

from loguru import logger

from thresher import logs


def _console_output(monkeypatch, debug: str | None) -> str:
    if debug is None:
        monkeypatch.delenv("THRESHER_DEBUG", raising=False)
    else:
        monkeypatch.setenv("THRESHER_DEBUG", debug)
    out = io.StringIO()
    monkeypatch.setattr(logs.sys, "stderr", out)
    logs._default_logger()
    try:
        try:
            raise ValueError("boom in a task")
        except ValueError as e:
            logger.exception(e)
        logger.warning("a warning the user should see")
    finally:
        logger.remove()
    return out.getvalue()


def test_a_task_traceback_stays_off_the_console(monkeypatch):
    text = _console_output(monkeypatch, None)
    assert "a warning the user should see" in text
    assert "Traceback" not in text and "boom in a task" not in text
    assert "Traceback" not in _console_output(monkeypatch, "0")


def test_debug_shows_the_traceback(monkeypatch):
    text = _console_output(monkeypatch, "1")
    assert "Traceback" in text and "boom in a task" in text


def test_the_debug_flag_reaches_the_workers_environment(monkeypatch):
    from typer.testing import CliRunner

    from thresher.cli.app import app

    monkeypatch.delenv("THRESHER_DEBUG", raising=False)  # undone after the test, which also removes what --debug set
    CliRunner().invoke(app, ["--debug", "status", "/nonexistent-workdir-for-test"])
    assert os.environ.get("THRESHER_DEBUG") == "1"


def test_an_error_is_one_line_however_long_its_path():
    """A path longer than the terminal was cut mid-name by rich's wrapping, so it could not be copied."""
    from typer.testing import CliRunner

    from thresher.cli.app import app

    path = "/tmp/" + "a_very_long_folder_name_" * 6 + "[x]/config.yaml"  # brackets are text, not markup
    result = CliRunner().invoke(app, ["run", path])
    assert result.exit_code == 2
    assert result.output == f"error: config file {path} not found\n"


def test_task_sinks_are_added_once_and_write_to_each_tasks_file(tmp_path, monkeypatch):
    """datatrove sets the sinks up at every task's start and end; loguru's `add` costs 25-50 ms, so
    the sinks stay and only the task file changes. Each task's file gets its own lines."""
    from datatrove.io import get_datafolder

    added = []
    real_add = logger.add
    monkeypatch.setattr(logger, "add", lambda *a, **k: added.append(a[0]) or real_add(*a, **k))
    folder = get_datafolder(str(tmp_path))
    try:
        for rank in range(3):
            f = logs._task_logger(folder, rank)
            logger.info(f"work of task {rank}")
            logs._default_logger()
            f.close()
            logger.info("between tasks: in no task file")
        adds = len(added)
    finally:
        logger.remove()
        logs._sinks.clear()
        logs._default_logger()  # the console sink back, for the tests after this one
    assert adds <= 2  # at most the task sink and a console sink for this test's stderr
    for rank in range(3):
        text = (tmp_path / "logs" / f"task_{rank:05d}.log").read_text()
        assert f"Launching pipeline for rank={rank}" in text and f"work of task {rank}" in text
        assert "between tasks" not in text and all(f"task {r}" not in text for r in range(3) if r != rank)
