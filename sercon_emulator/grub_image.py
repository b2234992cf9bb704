"""A BIOS boot image with a real GRUB in front of the test guest's kernel, for `sercon rescue`.

Built with Debian's `grub-mkrescue` (grub-pc-bin and xorriso) from the guest's own kernel and
initramfs; GRUB draws on the serial port only, as on an Azure VM. Two menu styles are built: a
visible menu with a countdown, and a hidden one with a short timeout, as Azure's images ship.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from sercon.errors import PreconditionFailed
from sercon_emulator.qemu import GuestImage

ENTRY = "Debian GNU/Linux (sercon test guest)"
# As long as an Azure image's (it wraps in GRUB's editor); only key=value words, which the kernel
# hands to init's environment, not its arguments.
CMDLINE = ("root=PARTUUID=4f0e1c0a-6d5b-4f44-a0a4-0c6d3d6a1e2b console=tty1 console=ttyS0,115200 "
           "earlyprintk=ttyS0 net.ifnames=0 panic=1 loglevel=6")

# Drawn by GRUB as on a real image: menu on the serial port at 115200, then a default entry whose
# `linux` line sits among the usual other lines (so the editor has something to move past).
CONFIG = """serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set default=0
set timeout_style={style}
set timeout={timeout}
{first}menuentry '{entry}' {{
\tinsmod gzio
\tinsmod part_msdos
\techo 'Loading Linux ...'
\tlinux /boot/vmlinuz {cmdline}
\techo 'Loading initial ramdisk ...'
\tinitrd /boot/initrd.img-sercon
}}
menuentry 'Second entry (never booted by the tests)' {{
\tlinux /boot/vmlinuz {cmdline} sercon.second=1
\tinitrd /boot/initrd.img-sercon
}}
"""


def missing_grub_tools() -> list[str]:
    missing = [tool for tool in ("grub-mkrescue", "xorriso") if shutil.which(tool) is None]
    if not Path("/usr/lib/grub/i386-pc").is_dir():
        missing.append("grub-pc-bin")
    return missing


# Variants of the first lines, for rescue's refusals: a default entry with no `linux` line (a
# firmware tool, another OS); a menu whose entries boot freely but edit only with a password.
VARIANTS = {
    "": "",
    "not-linux": "menuentry 'Memory test (no linux line)' {\n\techo 'not a Linux entry'\n}\n",
    "password": "set superusers=root\npassword root not-known-to-sercon\n",
    "nobash": "",  # the guest deletes /bin/bash (sercon.nobash): auto's first mode is refused
}


def grub_config(hidden: bool, timeout: int, variant: str = "") -> str:
    cmdline = CMDLINE + (" sercon.nobash" if variant == "nobash" else "")
    config = CONFIG.format(style="hidden" if hidden else "menu", timeout=timeout, entry=ENTRY, cmdline=cmdline,
                           first=VARIANTS[variant])
    if variant == "password":  # as distributions ship a GRUB password: boot freely, edit with it
        config = config.replace("' {", "' --unrestricted {")
    return config


def build_grub_image(image: GuestImage, cache: Path, hidden: bool, timeout: int, variant: str = "") -> Path:
    """An ISO in *cache* that boots *image* through GRUB; rebuilt only when its inputs change."""
    bzimage = _bzimage(image.kernel)
    config = grub_config(hidden, timeout, variant)
    digest = hashlib.sha256(config.encode() + bzimage.name.encode() + image.initrd.read_bytes()).hexdigest()[:16]
    iso = cache / f"grub-{digest}.iso"
    if iso.exists():
        return iso
    with tempfile.TemporaryDirectory(dir=cache) as work:
        root = Path(work) / "root"
        (root / "boot" / "grub").mkdir(parents=True)
        (root / "boot" / "grub" / "grub.cfg").write_text(config)
        shutil.copy(bzimage, root / "boot" / "vmlinuz")
        shutil.copy(image.initrd, root / "boot" / "initrd.img-sercon")  # named as initramfs-tools names it
        partial = Path(work) / "out.iso"
        done = subprocess.run(["grub-mkrescue", "-o", str(partial), str(root)], capture_output=True, check=False)
        if done.returncode != 0 or not partial.exists():
            detail = done.stderr.decode(errors="replace").strip()[-300:]
            raise PreconditionFailed(f"grub-mkrescue failed: {detail}", "apt-get install grub-pc-bin xorriso")
        partial.replace(iso)
    return iso


def _bzimage(kernel: Path) -> Path:
    """GRUB's `linux` wants the bzImage, not the ELF the direct-boot guest uses."""
    if kernel.name.startswith("vmlinuz"):
        return kernel
    candidate = kernel.with_name(kernel.name.replace("vmlinux", "vmlinuz", 1))
    if not candidate.exists():
        raise PreconditionFailed(f"no bzImage beside {kernel}", "delete the guest cache folder to rebuild it")
    return candidate
