"""The command line: parse, call one lower-layer function, render. Errors become exit codes here only.

Importing this package imports click and nothing heavy, so `sercon --help` starts fast; a command's
module is imported when that command runs (lazy_group.py), so `sercon connect` imports no other.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

import click

from sercon import __version__
from sercon.cli.env import Env
from sercon.cli.lazy_group import LazyGroup
from sercon.errors import ExitStatus, Interrupted, OutputClosed, SerconError, UsageError, redact
from sercon.terminal.signals import EXIT_SIGNALS, SIGINT, set_handler, signal_name


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="sercon")
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.option("--trace", "trace", metavar="FILE",
              help="Append a line per wire event (negotiation, frames, close codes, HTTP calls; never console "
                   "bytes or secrets) to FILE (mode 0600; - for stderr). Also SERCON_TRACE=FILE.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, trace: str | None) -> None:
    """sercon: serial consoles of Azure VMs and local serial devices.

    \b
    Targets: /dev/ttyUSB0, COM3, a pyserial URL (socket://, rfc2217://, loop://, spy://),
    a profile from the config file, or an Azure VM.
    Exit codes: 0 ok, 1 error, 2 usage, 3 timeout, 4 not found, 5 permission,
    6 prerequisite, 7 connection lost, 8 taken over, 9 device busy, 130 interrupted.
    """
    ctx.obj.debug = debug
    ctx.meta["sercon.trace_option"] = trace
    target = trace or ctx.obj.environ.get("SERCON_TRACE")
    if target:
        _start_trace(ctx, target)


def _start_trace(ctx: click.Context, target: str) -> None:
    """The wire trace for this run, closed with the run (imported only when asked for: a session
    without a trace loads nothing of it)."""
    from sercon import trace

    tracer = trace.start(target, ctx.obj.stderr)
    tracer.event("run", "command", name=ctx.invoked_subcommand or ctx.info_name)
    stopped: list[bool] = []

    def stop() -> None:
        if not stopped:
            stopped.append(True)
            if (warning := trace.stop(tracer)) is not None:
                ctx.obj.info(warning)

    ctx.find_root().meta["sercon.trace_stop"] = stop  # a --trace after the command name ends it early
    ctx.call_on_close(stop)


def _trace_after_command(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """`sercon connect web1 --trace FILE`: the same trace, given where users type options; it wins over
    SERCON_TRACE (whose trace says where it went), and with the root's --trace too it is one too many."""
    if not value:
        return
    import sercon

    if ctx.find_root().meta.get("sercon.trace_option"):
        raise UsageError("--trace given twice (before and after the command name)", "give --trace once")
    if sercon.TRACE is not None:  # SERCON_TRACE's: it ends here, saying where the rest went
        sercon.TRACE.event("trace", "moved", to=value)
        ctx.find_root().meta["sercon.trace_stop"]()
    _start_trace(ctx, value)


def _trace_option() -> click.Option:
    return click.Option(["--trace"], metavar="FILE", expose_value=False, callback=_trace_after_command,
                        help="The same as `sercon --trace FILE` (a line per wire event; - for stderr).")


def _register() -> None:
    """Each command module, and the commands it defines (COMMANDS) with their one-line summaries, so
    that `sercon --help` imports none of them (tests/cli/test_lazy_commands.py checks both against
    the modules); and --trace on each of them too."""
    for module, summaries in COMMAND_TABLE:
        cli.add_lazy(module, summaries)
    cli.common.append(_trace_option)


COMMAND_TABLE: tuple[tuple[str, dict[str, str]], ...] = (
    ("session_commands", {
        "connect": "Interactive console on TARGET, with an escape menu (Ctrl-] then ? for help).",
        "send": "Send TEXT (or stdin, when no TEXT or `-` is given) and print the console's output.",
        "sysrq": "Send magic SysRq KEYS: letters (h, s, b), names (help, sync, reboot) or reisub.",
        "nmi": "Send a non-maskable interrupt (asks first unless --yes).",
        "reset": "Hard-reset the machine, like pressing its reset button (asks first unless --yes).",
    }),
    ("watch_command", {
        "watch": "Watch TARGET's console read-only (a running `sercon connect`, else the boot log or the device).",
    }),
    ("rescue_command", {
        "rescue": "Reboot TARGET into a root shell through GRUB, then attach the console.",
    }),
    ("azure_commands", {
        "doctor": "Check every prerequisite of the console on TARGET, each with what was found and the fix.",
        "enable": "Enable the serial console for the subscription (needs write access to it).",
        "disable": "Disable the serial console for every VM of the subscription (asks first).",
        "log": "Print the boot diagnostics serial log of an Azure VM (what the console printed while booting).",
    }),
    ("account_commands", {
        "login": "Sign in to Azure interactively; later commands refresh the sign-in silently.",
        "logout": "Forget the sign-in of `sercon login` (the token cache is deleted).",
        "account": "Who sercon signs in as, in which tenant, and which subscription it uses.",
    }),
    ("history_command", {
        "history": "What TARGET's console printed, from the journal sercon keeps of every session.",
    }),
    ("emulator_command", {
        "emulator": "Run the local Azure emulator in the foreground and print the environment a client needs.",
    }),
    ("info", {
        "list": "Local serial ports (with USB ids and serial numbers) and configured profiles.",
        "completion": "Print the completion script for SHELL (the same as completions/ in the source).",
    }),
    ("demo", {
        "demo": "Try sercon with no account: an emulated Azure VM (a login prompt and a shell on this machine).",
    }),
)
_register()


def main(argv: list[str] | None = None, env: Env | None = None) -> int:
    """Run sercon and return its exit status; the one place errors are turned into messages.

    Click's own main is bypassed (but for shell completion): its broken-pipe handler would exit 1
    before sercon could end quietly.
    """
    if env is None and (sys.stdout is None or sys.stderr is None or sys.stdin is None):
        return _closed_stdio()
    env = env or Env.from_process()
    args = list(sys.argv[1:] if argv is None else argv)
    if env.environ.get("_SERCON_COMPLETE"):
        return cli.main(args=args, prog_name="sercon", obj=env)  # prints the completions and exits
    _raise_on_exit_signals()
    try:
        return _invoke(args, env)
    except (OutputClosed, BrokenPipeError):  # the reader went away while an error was being said
        _silence_stdout()
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), env.stderr.fileno())
        return int(ExitStatus.OUTPUT_CLOSED)


def _invoke(args: list[str], env: Env) -> int:
    """The command, and each way it can end turned into its exit status and message."""
    try:
        with cli.make_context("sercon", args, obj=env, terminal_width=help_width(env)) as ctx:
            return int(cli.invoke(ctx) or 0)
    except Interrupted as exc:
        return exc.exit_code
    except (OutputClosed, BrokenPipeError):
        _silence_stdout()
        return int(ExitStatus.OUTPUT_CLOSED)
    except SerconError as exc:
        env.error(exc.message, exc.hint)
        _traceback_if_debug(env)
        return int(exc.exit_status)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show(file=env.stderr)
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        env.stderr.write("\nsercon: interrupted\n")
        return int(ExitStatus.INTERRUPTED)
    except Exception as exc:  # a bug: say so plainly, with the way to see more
        env.error(f"unexpected error: {type(exc).__name__}: {exc}", "run again with --debug for the traceback")
        _traceback_if_debug(env)
        return int(ExitStatus.ERROR)


def help_width(env: Env) -> int:
    """The width click gives help (min(columns, 80) - 2, at least 50), with the columns of this run:
    COLUMNS in its environment, else its stdout's terminal, else 80. Given to click, it spares it
    loading shutil to ask the process's own (about 3 ms of `sercon --help`)."""
    columns = env.environ.get("COLUMNS", "")
    if not columns.isdigit():
        try:
            columns = str(os.get_terminal_size(env.stdout.fileno()).columns)
        except (OSError, ValueError, AttributeError):
            columns = "80"
    return max(min(int(columns), 80) - 2, 50)


def _closed_stdio() -> int:
    """sercon was started with stdin, stdout or stderr closed (`<&-`, `>&-`): a usage error."""
    with contextlib.suppress(OSError):
        stderr = sys.stderr or open(os.devnull, "w")  # noqa: SIM115 - nothing to close: we exit next
        stderr.write("sercon: error: started with standard input, output or error closed\n"
                     "  fix: give sercon all three (e.g. </dev/null instead of <&-)\n")
    return int(ExitStatus.USAGE)


def _raise_on_exit_signals() -> None:
    """SIGTERM, SIGHUP and the like end sercon through its error path, so every `finally` runs
    (the spinner's hidden cursor comes back; a session installs its own handlers while it runs)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in EXIT_SIGNALS:
        if signum != SIGINT:  # Python's KeyboardInterrupt already does this
            set_handler(signum, _interrupted)


def _interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum, signal_name(signum))


def _traceback_if_debug(env: Env) -> None:
    """The traceback for --debug, with tokens and signatures blanked (a chained exception may carry
    a signed blob URL or a token in its message)."""
    if env.debug:
        import traceback

        env.stderr.write(redact(traceback.format_exc()))
        env.stderr.flush()


def _silence_stdout() -> None:
    """The reader of our stdout went away (`| head`); don't let the interpreter complain at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def run() -> None:
    sys.exit(main())
