"""Line-setting and session choices, kept apart so the CLI can offer them without importing the target logic."""

from sercon.errors import UsageError

PARITIES = {"none": "N", "even": "E", "odd": "O", "mark": "M", "space": "S"}
FLOWS = ("none", "rtscts", "xonxoff")
CLOUDS = ("AzureCloud", "AzureUSGovernment", "AzureChinaCloud")
LOG_FORMATS = ("text", "jsonl")
RESIZE = ("auto", "off")
PASTE_CHUNK_MIN = 16  # bytes: a smaller write of pasted input only costs time
# Linux's termios rates, and a few well-known others (ESP8266's boot ROM 74880, MIDI 31250, 3D printers'
# 250000): any other -b is likely a typo (11520 for 115200), warned about unless --baud-exact.
STANDARD_BAUDS = (50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 14400, 19200, 28800, 31250,
                  38400, 57600, 74880, 115200, 128000, 230400, 250000, 256000, 460800, 500000, 576000, 921600,
                  1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000)
# Menu keys that ordinary typing sends all the time: each one would open the menu instead.
TYPED_KEYS = {0x0D: "Enter", 0x0A: "Enter (line feed)", 0x1B: "Esc, which starts every arrow and function key",
              0x09: "Tab", 0x08: "Backspace on many terminals"}


def parse_escape_key(spec: str) -> int | None:
    """`^]`, `ctrl-]`, `ctrl-t`, `^T` or `none` -> the escape byte (None: no menu key)."""
    text = spec.strip().lower()
    if text in ("none", "off", ""):
        return None
    for prefix in ("ctrl-", "ctrl+", "c-", "^"):
        if text.startswith(prefix) and len(text) == len(prefix) + 1 and text[-1].isascii():
            byte = ord(text[-1].upper()) ^ 0x40
            if 0 <= byte < 0x20:
                return byte
    raise UsageError(f"cannot use {spec!r} as the escape key", "write it as ctrl-] (the default), ^T or none")


def key_name(byte: int) -> str:
    return f"^{chr(byte ^ 0x40)}" if byte < 0x20 else chr(byte)
