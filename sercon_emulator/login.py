"""A small getty for emulated VMs: a login prompt, a password, then a shell, on the current terminal.

    python3 -I -S login.py --hostname web1 --user azureuser --password-fd 5 --accounts-fd 6 --note "..."

Standard library only: the emulator runs a copy of this file with the system's Python, as the VM's
unprivileged user (sandbox.py). The password comes on a pipe (`--password-fd`), never in the
environment or the command line. Without one nobody logs in ("Login incorrect"), unless
`--allow-empty-password` lets an empty password in. The users the VM access extension set come on
another pipe that stays open (`--accounts-fd`, one JSON line per user, a later line replacing an
earlier one): it is read before every check, so a user set while the prompt waits logs in at once,
and it is closed before the shell starts. Like a getty: what was typed before the banner is dropped
(an Enter pressed while the VM booted gives no second prompt), Ctrl-C gives a new prompt, EOF or a
hang-up ends the program quietly (the emulator starts a new one).
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import os
import signal
import sys
import termios


def say(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def ask(prompt: str, echo: bool = True) -> str | None:
    """A line typed at the terminal (None at EOF or when the terminal is gone); *echo* off for passwords."""
    fd = sys.stdin.fileno()
    say(prompt)
    saved = termios.tcgetattr(fd)
    if not echo:
        quiet = termios.tcgetattr(fd)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        line = sys.stdin.readline()
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)
        if not echo:
            say("\n")
    return line.rstrip("\r\n") if line else None


def read_password(fd: int | None) -> str | None:
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as pipe:
        return pipe.read().decode("utf-8", "replace")


def accepted(given: str, password: str | None, allow_empty: bool) -> bool:
    if password:
        return hmac.compare_digest(given.encode(), password.encode())
    return allow_empty and given == ""  # no password: nobody gets in, unless empty ones are allowed


class Accounts:
    """The users of the VM access extension, from a pipe the emulator keeps writing to."""

    def __init__(self, fd: int | None) -> None:
        self.fd, self.users, self._partial = fd, {}, b""
        if fd is not None:
            os.set_blocking(fd, False)

    def refresh(self) -> None:
        while self.fd is not None:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not data:  # the emulator closed its end: nothing more will come
                self.close()
                return
            *lines, self._partial = (self._partial + data).split(b"\n")
            for line in lines:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    record = json.loads(line)
                    self.users[str(record["user"])] = str(record["password"])

    def password(self, user: str) -> str | None:
        self.refresh()
        return self.users.get(user)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def allowed(user: str, given: str, args: argparse.Namespace, password: str | None, accounts: Accounts) -> bool:
    """The extension's users first (one may reset the VM's own user), then the VM's own user."""
    theirs = accounts.password(user)
    if theirs is not None:
        return accepted(given, theirs, False)
    return user == args.user and accepted(given, password, args.allow_empty_password)


def log_in(args: argparse.Namespace, password: str | None, accounts: Accounts) -> str | None:
    """Prompt until someone logs in (their name); None at EOF. Ctrl-C starts the prompt again."""
    interrupted = False
    while True:
        try:
            if interrupted:
                interrupted = False
                say("\n")
            user = ask(f"{args.hostname} login: ")
            if user is None:
                return None
            if not user:
                continue
            given = ask("Password: ", echo=False)
            if given is None:
                return None
            if allowed(user, given, args, password, accounts):
                return user
            say("\nLogin incorrect\n")
        except KeyboardInterrupt:
            interrupted = True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hostname", default="vm")
    parser.add_argument("--user", default="azureuser")
    parser.add_argument("--password-fd", type=int)
    parser.add_argument("--accounts-fd", type=int)
    parser.add_argument("--allow-empty-password", action="store_true")
    parser.add_argument("--note", default="", help="a line under the banner: what this VM really is")
    parser.add_argument("--shell", default="/bin/sh")
    args = parser.parse_args()
    signal.signal(signal.SIGHUP, signal.SIG_DFL)  # even if whoever started the emulator ignored it (nohup)
    password = read_password(args.password_fd)
    accounts = Accounts(args.accounts_fd)
    with contextlib.suppress(OSError):  # as agetty does: keys typed while the machine booted ask for nothing
        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    say(f"\nUbuntu 22.04.4 LTS {args.hostname} ttyS0\n" + (f"{args.note}\n" if args.note else "") + "\n")
    try:
        user = log_in(args, password, accounts)
    except OSError:  # the terminal went away (EIO): as at EOF
        user = None
    accounts.close()  # the shell never gets it
    if user is None:
        return
    home = os.environ.get("HOME", "/tmp")
    os.chdir(home if os.path.isdir(home) else "/")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "USER": user, "LOGNAME": user,
           "TERM": os.environ.get("TERM", "vt220"), "LANG": os.environ.get("LANG", "C.UTF-8"),
           "PS1": f"{user}@{args.hostname}:~$ ", "ENV": ""}
    os.execve(args.shell, [args.shell, "-i"], env)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # a Ctrl-C between prompts: end quietly, a new getty starts
        main()
