"""A small getty for emulated VMs: a login prompt, a password, then a shell, on the current terminal.

    python -m sercon.emulator.login --hostname web1 --user azureuser --password-env DEMO_PASSWORD
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
import termios


def ask(prompt: str, echo: bool = True) -> str | None:
    fd = sys.stdin.fileno()
    sys.stdout.write(prompt)
    sys.stdout.flush()
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
            sys.stdout.write("\n")
    return line.rstrip("\r\n") if line else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hostname", default="vm")
    parser.add_argument("--user", default="azureuser")
    parser.add_argument("--password-env", default="SERCON_VM_PASSWORD")
    parser.add_argument("--shell", default="/bin/sh")
    args = parser.parse_args()
    password = os.environ.pop(args.password_env, "")
    sys.stdout.write(f"\nUbuntu 22.04.4 LTS {args.hostname} ttyS0\n\n")
    while True:
        user = ask(f"{args.hostname} login: ")
        if user is None:
            return
        if not user:
            continue
        given = ask("Password: ", echo=False)
        if given is None:
            return
        if user == args.user and hmac.compare_digest(given, password):
            break
        sys.stdout.write("\nLogin incorrect\n")
    sys.stdout.flush()
    home = os.environ.get("HOME", "/tmp")
    os.chdir(home if os.path.isdir(home) else "/")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "USER": user, "TERM": "vt220",
           "PS1": f"{user}@{args.hostname}:~$ ", "ENV": ""}
    os.execve(args.shell, [args.shell, "-i"], env)


if __name__ == "__main__":
    main()
