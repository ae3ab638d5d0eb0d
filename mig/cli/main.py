"""The `mig` command line: parse, call one function, render text or JSON.

This is the only place errors are caught: a MigError prints
`<command> failed: <message>` on stderr and exits 1 (with `--json`, an
error object on stdout too); anything else is a bug and shows its traceback
only with MIG_DEBUG=1. Usage errors are click's, in one line: exit 2.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import click

from mig import commands
from mig.cli.fleet import fleet
from mig.cli.text import render_text
from mig.errors import MigError

__all__ = ["main"]


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _not_empty(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An empty path names no file; taken as absent, mig would infer another one."""
    if value == "":
        raise click.BadParameter(f"an empty path names nothing; pass a path, or leave "
                                 f"{param.opts[0]} out" + (" to infer it" if param.opts[0] != "--dir" else ""))
    return value


def _options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The shared options: --dir, --json, and the path options a command takes."""
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(names):
            fn = click.option(f"--{name}", "path_" + name, metavar="P", callback=_not_empty,
                              help=f"{name} path (inferred when omitted)")(fn)
        fn = click.option("--json", "as_json", is_flag=True, help="print one JSON object")(fn)
        fn = click.option("--dir", "directory", default=".", metavar="D", show_default=True,
                          callback=_not_empty,
                          help="project directory")(fn)
        return fn
    return wrap


def _inputs(directory: str, path_old: str | None = None, path_new: str | None = None,
            path_schema: str | None = None, path_directives: str | None = None) -> commands.Inputs:
    # The schema path stays a string: its errors name the file as it was typed.
    return commands.Inputs(Path(directory), _path(path_old), _path(path_new), path_schema or None,
                           _path(path_directives))


def _jsonable(obj: Any) -> Any:
    """A report as JSON data: its fields, the properties it names in `json_properties`,
    and a stored plan in the plan's own JSON form."""
    if is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "to_json") and not hasattr(obj, "json_properties"):
            own = obj.to_json()
            return json.loads(own) if isinstance(own, str) else own
        data = {f.name: _jsonable(getattr(obj, f.name)) for f in fields(obj)}
        data.update({name: _jsonable(getattr(obj, name)) for name in getattr(obj, "json_properties", ())})
        return data
    if isinstance(obj, (list, tuple)):
        return [_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return obj


def _warn(msg: str) -> None:
    click.echo(msg, err=True)


def _progress(as_json: bool) -> Callable[[str, int, int | None], None]:
    """A bar on a terminal, plain lines elsewhere; on stderr, so --json's stdout stays one object."""
    from mig.cli.progress import make_progress

    return make_progress(quiet=False, stream=sys.stderr)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as a Ctrl-C is, so every `finally` runs and
    whatever lets a Ctrl-C through (a schema.py's exception handler) lets it through."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated()


def _exit(code: int) -> None:
    """sys.exit, with CPython's memory of an interrupt cleared: a KeyboardInterrupt that
    passed through exec() of a string (dataclass creation runs one while a lazily imported
    module loads) is recorded as unhandled even though mig caught it, and the interpreter
    would then end by SIGINT (-2) instead of with `code`; every exec() resets the record."""
    exec("pass")  # noqa: S102 - a constant, run only for the side effect above
    sys.exit(code)


def _run(command: str, as_json: bool, call: Callable[[], Any], exit_code: Callable[[Any], int] | None = None) -> None:
    from mig.cli.progress import close_all

    # The demo handles its own signals: it stops its writer first.
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if command != "demo" else None
    try:
        try:
            report = call()
        finally:
            if previous is not None:  # only the work is interrupted, never the report of it
                signal.signal(signal.SIGTERM, previous)
            close_all()  # a live bar would be redrawn under the summary or the error
    except KeyboardInterrupt as exc:
        name, code = ("SIGTERM", 143) if isinstance(exc, _Terminated) else ("SIGINT", 130)
        state = getattr(exc, "mig_state", None)  # what the phase leaves, when it said
        # The phase's own note says what to run next; without one, the generic advice.
        message = f"interrupted by {name}; every step mig had committed stays" + (
            f", {state}" if state else f"; running `mig {command}` again goes on from there "
            "(`mig status` shows where things stand)")
        if as_json:
            click.echo(json.dumps({"ok": False, "command": command,
                                   "error": {"kind": "interrupted", "message": message}}))
        click.echo(f"{command} failed: {message}", err=True)
        _exit(code)
    except MigError as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "command": command, "error": exc.to_json()}))
        click.echo(f"{command} failed: {exc}", err=True)
        if os.environ.get("MIG_DEBUG") == "1":
            raise
        _exit(getattr(exc, "exit_code", 1))  # an interrupted demo exits 130/143
    except Exception as exc:  # a bug: still one line, and the way to see more
        if os.environ.get("MIG_DEBUG") == "1":
            raise
        click.echo(f"{command} failed: internal error ({type(exc).__name__}: {exc}); "
                   "set MIG_DEBUG=1 to see the traceback", err=True)
        _exit(1)
    code = exit_code(report) if exit_code else 0
    if as_json:
        click.echo(json.dumps({"ok": code == 0, "command": command, **_jsonable(report)},
                              sort_keys=True, default=str))
    else:
        click.echo(render_text(command, report))
    _exit(code)


class _Group(click.Group):
    """click's group, with a usage error in one line (still exit 2), like every other error."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             **extra: Any) -> Any:
        extra.pop("standalone_mode", None)
        try:
            return super().main(args, prog_name or "mig", standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # `mig` alone: the help, as click shows it
            exc.show()
            _exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else self._command_path(args)
            message = " ".join(exc.format_message().split()).rstrip(".")
            click.echo(f"{where}: {message}; see `{where} --help`", err=True)
            _exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            _exit(exc.exit_code)
        except click.Abort:  # Ctrl-C while click itself still reads the command line
            click.echo("mig: interrupted", err=True)
            _exit(130)

    def _command_path(self, args: Sequence[str] | None) -> str:
        """`mig <command>` for an error click raised before the command had a context."""
        given = list(sys.argv[1:] if args is None else args)
        command = next((a for a in given if a in self.commands), None)
        return f"mig {command}" if command else "mig"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mig")
def main() -> None:
    """Hot schema migrations for live SQLite databases (see the runbook)."""


@main.command()
@_options("old", "schema")
@click.option("--format", "fmt", type=click.Choice(["sql", "py", "fsx"]), default="sql", show_default=True,
              help="the schema file's language")
def init(directory: str, as_json: bool, path_old: str | None, path_schema: str | None, fmt: str) -> None:
    """Write the schema file of an existing database (never over a file)."""
    inputs = _inputs(directory, path_old, path_schema=path_schema)
    _run("init", as_json, lambda: commands.init_command(inputs, fmt))


_directives = click.option("--directives", "path_directives", metavar="P", callback=_not_empty,
                           help="a file of -- mig: renames and drops, for a target that cannot show them")


@main.command()
@_options("old", "schema", "new")
@_directives
def plan(directory: str, as_json: bool, path_old: str | None, path_schema: str | None,
         path_new: str | None, path_directives: str | None) -> None:
    """Show what migrate would do; change nothing. Exit 1 if it would be refused."""
    inputs = _inputs(directory, path_old, path_new, path_schema, path_directives)
    _run("plan", as_json, lambda: commands.plan_command(inputs, _warn),
         lambda r: 1 if r.refused else 0)


@main.command()
@_options("old", "schema", "new")
@_directives
def migrate(directory: str, as_json: bool, path_old: str | None, path_schema: str | None,
            path_new: str | None, path_directives: str | None) -> None:
    """Capture writes on the old database, build the new one and copy the data."""
    inputs = _inputs(directory, path_old, path_new, path_schema, path_directives)
    _run("migrate", as_json, lambda: commands.migrate_command(inputs, _warn, _progress(as_json)))


@main.command()
@_options("old", "new")
def status(directory: str, as_json: bool, path_old: str | None, path_new: str | None) -> None:
    """Show where the migration stands (read-only)."""
    inputs = _inputs(directory, path_old, path_new)
    _run("status", as_json, lambda: commands.status_command(inputs))


@main.command()
@_options("old", "new")
@click.option("--cutover", "then_cutover", is_flag=True,
              help="cut over in the same process: the shortest write-unavailability window")
def drain(directory: str, as_json: bool, path_old: str | None, path_new: str | None, then_cutover: bool) -> None:
    """Block writes on the old database and replay the recorded writes."""
    inputs = _inputs(directory, path_old, path_new)
    _run("drain", as_json, lambda: commands.drain_command(inputs, _progress(as_json), then_cutover))


@main.command()
@_options("new", "old")
def cutover(directory: str, as_json: bool, path_new: str | None, path_old: str | None) -> None:
    """Check that drain is complete, then open the new database to its service.

    The old database is the one migrate recorded; --old only if it has moved.
    """
    inputs = _inputs(directory, path_old=path_old, path_new=path_new)
    _run("cutover", as_json, lambda: commands.cutover_command(inputs))


@main.command()
@_options("new", "old")
def revert(directory: str, as_json: bool, path_new: str | None, path_old: str | None) -> None:
    """After cutover: block writes on the new database, replay them into the old one, reopen it.

    Until `mig cleanup-old` ends the revert window; the old database is the one
    migrate recorded, --old only if it has moved.
    """
    inputs = _inputs(directory, path_old=path_old, path_new=path_new)
    _run("revert", as_json, lambda: commands.revert_command(inputs, _progress(as_json)))


@main.command("cleanup-old")
@_options("old")
def cleanup_old(directory: str, as_json: bool, path_old: str | None) -> None:
    """Remove mig's tables and triggers from the old database after cutover; ends the revert window."""
    inputs = _inputs(directory, path_old)
    _run("cleanup-old", as_json, lambda: commands.cleanup_old_command(inputs))


@main.command()
@_options("old", "new")
def abort(directory: str, as_json: bool, path_old: str | None, path_new: str | None) -> None:
    """Before cutover: restore the old database as it was and remove the new one."""
    inputs = _inputs(directory, path_old, path_new)
    _run("abort", as_json, lambda: commands.abort_command(inputs))


@main.command()
@_options("old", "new")
def verify(directory: str, as_json: bool, path_old: str | None, path_new: str | None) -> None:
    """Compare every table of the new database with the old one mapped through the plan."""
    inputs = _inputs(directory, path_old, path_new)
    _run("verify", as_json, lambda: commands.verify_command(inputs),
         lambda r: 0 if r.ok else 1)


@main.command()
@click.option("--dir", "directory", default=None, metavar="D",
              help="where to build the example (default: a temporary directory)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--rows", default=20_000, show_default=True, help="rows in the example's main table")
def demo(directory: str | None, as_json: bool, rows: int) -> None:
    """Run the whole runbook on a built-in example with a live writer."""
    from mig.cli.demo import run_demo

    _run("demo", as_json, lambda: run_demo(directory, rows, quiet=as_json))


main.add_command(fleet)


if __name__ == "__main__":  # pragma: no cover
    main()
