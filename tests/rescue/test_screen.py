"""The screen model GRUB is read from: any bytes, split anywhere, give the same screen and never raise."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sercon.rescue import grub
from sercon.rescue.screen import Screen

# How GRUB 2.06 draws its editor, a long linux line wrapped with a backslash in the box's last column
# (the shape recorded from the real one, trimmed).
LINUX = ("        linux /boot/vmlinuz root=PARTUUID=4f0e1c0a-6d5b-4f44-a0a4-0c6d3d6a1e2b console=tty1 "
         "console=ttyS0,115200 earlyprintk=ttyS0 net.ifnames=0 panic=1 loglevel=6")
ROWS = [LINUX[i:i + 75] for i in range(0, len(LINUX), 75)]
WRAPPED = b"".join(f"\x1b[{7 + n};3H{row}".encode() + (b"\\" if n < len(ROWS) - 1 else b"")
                   for n, row in enumerate(ROWS))
EDITOR = (b"\x1b[H\x1b[J\x1b[1;1H\x1b[2;24HGNU GRUB  version 2.06-13+deb12u2\n\r\n\r"
          b"\x1b[4;2H+" + b"-" * 76 + b"+"
          b"\x1b[5;3Hsetparams 'Debian GNU/Linux'" + b"\x1b[5;79H|"
          b"\x1b[6;3H        echo 'Loading Linux ...'" + WRAPPED +
          b"\x1b[10;3H        initrd /boot/initrd.gz"
          b"\x1b[19;1H      Minimum Emacs-like screen editing is supported. TAB lists"
          b"\x1b[7;3H\x1b[?25h")


def test_the_line_at_the_cursor_is_found_from_any_of_its_rows():
    for row in (7, 8, 9):  # the linux line's three rows
        screen = fed([EDITOR, f"\x1b[{row};40H".encode()])
        assert grub.line_at_cursor(screen) == LINUX
    assert grub.line_at_cursor(fed([EDITOR, b"\x1b[10;20H"])).strip() == "initrd /boot/initrd.gz"


def fed(chunks: list[bytes]) -> Screen:
    screen = Screen()
    for chunk in chunks:
        screen.feed(chunk)
    return screen


def test_the_editor_is_read_with_its_wrapped_linux_line_joined():
    screen = fed([EDITOR])
    assert grub.editor_showing(screen) and not grub.menu_showing(screen)
    assert (screen.row, screen.col) == (6, 2)
    assert grub.cursor_on_linux_line(screen)
    line = grub.logical_line(screen, screen.row)
    assert line == LINUX and len(ROWS) == 3
    assert not grub.is_linux_line(grub.logical_line(screen, 5))
    assert grub.is_linux_line("\tlinuxefi /vmlinuz ro") and not grub.is_linux_line("echo linux /x")


def test_the_highlighted_menu_entry_is_the_starred_one():
    screen = fed([b"\x1b[2;24HGNU GRUB  version 2.06\x1b[5;3H\x1b[7m*Ubuntu                \x1b[m"
                  b"\x1b[6;3H Advanced options for Ubuntu\x1b[19;1H      Use the ^ and v keys to select"])
    assert grub.menu_showing(screen)
    assert grub.highlighted_entry(screen) == "Ubuntu"


# GRUB 2.06 with LANG=de_DE: no English anchors on the screen.
GERMAN_MENU = ("\x1b[2;24HGNU GRUB  Version 2.06-13+deb12u1\x1b[4;2H+" + "-" * 76 + "+"
               "\x1b[5;2H|\x1b[7m*Debian GNU/Linux" + " " * 59 + "\x1b[m|"
               "\x1b[6;2H| Erweiterte Optionen f\u00fcr Debian GNU/Linux\x1b[19;1H      Verwenden Sie die Tasten "
               "\u2191 und \u2193, um einen Eintrag auszuw\u00e4hlen.").encode()


def test_a_menu_and_editor_in_another_language_are_recognised():
    screen = fed([GERMAN_MENU])
    assert grub.menu_showing(screen) and not grub.editor_showing(screen)
    assert grub.highlighted_entry(screen) == "Debian GNU/Linux"
    editor = EDITOR.replace(b"Minimum Emacs-like screen editing is supported. TAB lists",
                            b"Minimale Emacs-artige Bildschirmbearbeitung wird unterst\xc3\xbctzt.")
    screen = fed([GERMAN_MENU, editor])
    assert grub.editor_showing(screen) and not grub.menu_showing(screen)
    assert not grub.menu_showing(fed([b"GNU GRUB  version 2.06\r\n grub> "]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_any_bytes_split_anywhere_give_the_same_screen(data, cuts):
    whole = fed([EDITOR + data])
    points = sorted({min(cut, len(EDITOR + data)) for cut in cuts})
    stream, chunks, start = EDITOR + data, [], 0
    for point in points:
        chunks.append(stream[start:point])
        start = point
    chunks.append(stream[start:])
    split = fed(chunks)
    assert split.display() == whole.display()
    assert (split.row, split.col) == (whole.row, whole.col)
    assert 0 <= whole.row < whole.rows and 0 <= whole.col < whole.cols
