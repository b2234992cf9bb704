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
JOURNAL_DEFAULT_SIZE = 16 * 2**20  # bytes: a target's journal is kept to this unless journal_size says
JOURNAL_MIN_SIZE = 64 * 2**10  # bytes: the least journal_size a target's journal is kept to
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


def parse_size(value: object) -> int | None:
    """"16MiB", "512k", "1G", 1048576 -> bytes; None when it is not a size."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower().replace(" ", "")
    units = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20, "mib": 2**20,
             "g": 2**30, "gb": 2**30, "gib": 2**30}
    digits = text.rstrip("kmgib")
    unit = text[len(digits):]
    try:
        number = float(digits)
    except ValueError:
        return None
    if unit not in units or not number > 0 or number != number:
        return None
    return int(number * units[unit])
