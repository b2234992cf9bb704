"""A login typed into a session's terminal against a device that plays the console."""

from __future__ import annotations


def type_login_and_password(term, device, user: bytes = b"ops", password: bytes = b"hunter2") -> None:
    """The device prints `login:`, the user types *user*; then `Password:`, the user types *password*."""
    device.write(b"web1 login: ")
    term.wait_text("web1 login:")
    term.send(user + b"\r")
    device.expect(user + b"\r")
    device.write(b"\r\nPassword: ")
    term.wait_text("Password:")
    term.send(password + b"\r")
    device.expect(password + b"\r")
