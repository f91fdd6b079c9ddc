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
