"""The `thresher` command: every subcommand, registered in the order `thresher --help` lists them.

Exit codes: 0 success, 1 a failure while running, 2 a usage or config error, 130 interrupted.
The command modules beside this one parse arguments and call the rooms; they raise thresher's
errors and `_guard` here turns them, and the OS errors people meet (a read-only or full disk), into
one clear line and the exit code; the traceback only with `thresher --debug ...`. Each command imports
its room inside the function, so `thresher --help` loads no torch, polars or datatrove.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Callable

import click
import typer
from rich.console import Console
from rich.markup import escape

from thresher.cli import audit, chat, classifier, decode, export, report, sample, stages
from thresher.errors import ConfigError, ThresherError
from thresher.pipelines.stages import STAGES

console = Console(stderr=True)
DEBUG = {"on": False}  # set by `thresher --debug`: errors keep their traceback
INTERRUPTED = "interrupted: rerun the same command to resume"


def _fail(code: int, message: str) -> None:
    # one line however long (a wrapped path cannot be copied), and the message is text, not markup
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _guard(command: Callable[..., None]) -> Callable[..., None]:
    """The command, with thresher's errors mapped to exit codes: ConfigError -> 2, any other
    ThresherError -> 1, each as one `error:` line (no traceback). Typer reads the parameters
    through `functools.wraps`."""

    @functools.wraps(command)
    def guarded(*args, **kwargs) -> None:
        try:
            command(*args, **kwargs)
        except KeyboardInterrupt:  # before click turns it into "Aborted!"
            console.print(INTERRUPTED, highlight=False)
            raise typer.Exit(130) from None
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise  # typer's own exits and usage errors
        except Exception as e:
            if DEBUG["on"]:
                console.print_exception()
            if isinstance(e, ConfigError):
                _fail(2, str(e))
            if isinstance(e, ThresherError):
                _fail(1, str(e))
            if isinstance(e, OSError):
                _fail(1, _os_error(e))
            _fail(1, f"{type(e).__name__}: {e} (a bug: `thresher --debug ...` prints the traceback)")

    return guarded


def _os_error(e: OSError) -> str:
    """`cannot write out/x/_logs: read-only file system` and what to do."""
    import errno

    where = f" {e.filename}" if e.filename else ""
    advice = {errno.EACCES: "check the folder's permissions or choose another workdir",
              errno.EROFS: "the disk is read-only: choose another workdir",
              errno.ENOSPC: "the disk is full: free space, then rerun the same command to resume",
              errno.EDQUOT: "the disk quota is full: free space, then rerun the same command to resume"}.get(e.errno, "")
    return f"{e.strerror or type(e).__name__}:{where}" + (f" ({advice})" if advice else "")


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Build a clean multimodal pretraining corpus and train a compact MoE model on it.")


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error.")) -> None:
    DEBUG["on"] = debug
    if debug:  # the workers inherit it: their tracebacks reach the console too (thresher/logs.py)
        os.environ["THRESHER_DEBUG"] = "1"


app.command("run")(_guard(stages.run))
app.command("status")(_guard(stages.status))
for _stage in STAGES:  # one subcommand per stage of the table, same name
    app.command(_stage.name)(_guard(stages.stage_command(_stage.name, _stage.summary)))
app.command("demo")(_guard(stages.demo))
app.command("inspect")(_guard(stages.inspect))

classifier_app = typer.Typer(add_completion=False, no_args_is_help=True,
                             help="Train and evaluate the fastText quality classifier on your own examples.")
classifier_app.command("train")(_guard(classifier.train))
classifier_app.command("eval")(_guard(classifier.evaluate))
app.add_typer(classifier_app, name="classifier")
app.command("audit")(_guard(audit.audit))
app.command("report")(_guard(report.report))

app.command("sample")(_guard(sample.sample))
app.command("decode")(_guard(decode.decode))
app.command("chat")(_guard(chat.chat))
app.command("export")(_guard(export.export))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        console.print(INTERRUPTED, highlight=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
