"""A real Debian 12 guest, made as Debian's Azure images are: systemd, the cloud kernel, GRUB on MBR.

`sercon rescue` meets real distributions, not the busybox guest: a GRUB that `update-grub` wrote
(long `linux` lines, root=UUID=...), drawn on the serial line and the screen at once, a one-second
countdown, and systemd's emergency shell, which refuses a locked root. So the image is built from
Debian's own packages with debootstrap, from the mirror this host's apt already uses (no mirror is
named here), into a sparse raw disk in a cache folder. The build needs root (loop devices, mounts,
chroot); QEMU boots the result with snapshot=on, so the cached image never changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sercon.errors import PreconditionFailed

SUITE = "bookworm"
HOSTNAME = "sercon-debian"
USER = "azureuser"
DISK_BYTES = 2 * 1024**3
FIX = "run as root with debootstrap, fdisk (sfdisk), e2fsprogs and a bookworm entry in apt's sources"
# minbase brings login, passwd, util-linux (agetty, sulogin), bash; the rest makes it boot like Azure's.
PACKAGES = ("systemd-sysv", "linux-image-cloud-amd64", "grub-pc", "initramfs-tools", "sudo")
TERMINALS = ("serial console", "console serial", "serial")
# grub-cloud-amd64's /etc/default/grub (what Debian's amd64 cloud images ship), with the terminal
# as a parameter, then the two grub.d files of debian-cloud-images' AZURE class for bookworm.
GRUB_DEFAULT = """GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0"
GRUB_TERMINAL="{terminal}"
GRUB_SERIAL_COMMAND="serial --speed=115200"
GRUB_DISABLE_OS_PROBER=true
"""
GRUB_AZURE_NVME = 'GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} nvme_core.io_timeout=240 nvme_core.admin_timeout=240"\n'
GRUB_AZURE_TIMEOUT = "GRUB_TIMEOUT=1\nGRUB_TIMEOUT_STYLE=countdown\n"
# Run in the chroot after debootstrap, in this order ({loop}: the whole disk). root keeps the `*`
# that debootstrap gives it, as on Debian's cloud images: locked, so sulogin refuses it.
STEPS = (
    ("useradd", "useradd --create-home --uid 1000 --shell /bin/bash --groups sudo " + USER),
    ("chpasswd", "chpasswd --crypt-method SHA512"),  # reads "user:password" on stdin
    ("grub-install", "grub-install --target=i386-pc {loop}"),
    ("update-grub", "update-grub"),
)
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOME": "/root",
              "DEBIAN_FRONTEND": "noninteractive"}


@dataclass(frozen=True)
class DebianImage:
    disk: Path
    user: str
    password: str
    hostname: str


def missing_debian_tools() -> list[str]:
    """What the build and the boot need that this machine lacks ("root" when not running as root)."""
    tools = ("debootstrap", "qemu-system-x86_64", "sfdisk", "mkfs.ext4", "losetup", "partx", "mount", "chroot")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if os.geteuid() != 0:
        missing.append("root")
    return missing


def build_debian_image(cache: Path, password: str, terminal: str = "serial console") -> DebianImage:
    """The image in *cache*, built first if its recipe (or *password*, *terminal*) has none there yet.

    Built into a temporary file beside it and renamed when done: a file with the final name is whole.
    """
    if terminal not in TERMINALS:
        raise ValueError(f"terminal must be one of {TERMINALS}, not {terminal!r}")
    cache.mkdir(parents=True, exist_ok=True)
    recipe = _recipe(terminal)
    digest = hashlib.sha256(json.dumps([recipe, password]).encode()).hexdigest()[:16]
    disk = cache / f"debian-{SUITE}-{digest}.raw"
    if not disk.exists():
        handle, name = tempfile.mkstemp(dir=cache, prefix=f".{disk.name}.", suffix=".partial")
        os.close(handle)
        partial = Path(name)
        try:
            _build(partial, recipe, password, debian_mirror())
            partial.chmod(0o644)  # as the other cached files: a test password is no secret
            partial.replace(disk)
        finally:
            partial.unlink(missing_ok=True)
    return DebianImage(disk, USER, password, HOSTNAME)


def _recipe(terminal: str) -> dict:
    """Everything the image is made of, but the password: its hash names the cached file."""
    files = {
        "etc/hostname": f"{HOSTNAME}\n",
        "etc/hosts": f"127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n",  # sudo resolves its own host name
        "etc/fstab": "UUID={uuid} / ext4 rw,discard,errors=remount-ro 0 1\n",
        "etc/default/grub": GRUB_DEFAULT.format(terminal=terminal),
        "etc/default/grub.d/10_cloud_azure_nvme.cfg": GRUB_AZURE_NVME,
        "etc/default/grub.d/15_timeout.cfg": GRUB_AZURE_TIMEOUT,
    }
    return {"suite": SUITE, "variant": "minbase", "arch": "amd64", "packages": PACKAGES, "bytes": DISK_BYTES,
            "sfdisk": "label: dos\nstart=2048, type=83, bootable\n", "mkfs": ["-q", "-L", "root"],
            "files": files, "steps": STEPS, "recipe": 1}  # "recipe": bump it when _build's code changes


def debian_mirror() -> str:
    """The Debian mirror this host's apt uses for bookworm (deb822 .sources first, then .list lines)."""
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text(errors="replace")):
            fields = dict(re.findall(r"(?m)^([A-Za-z-]+):[ \t]*(.*)$", stanza))
            if ("deb" in fields.get("Types", "").split() and SUITE in fields.get("Suites", "").split()
                    and fields.get("Enabled", "yes").lower() != "no" and fields.get("URIs", "").split()):
                return fields["URIs"].split()[0]
    for path in [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]:
        text = path.read_text(errors="replace") if path.exists() else ""
        match = re.search(rf"(?m)^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+{SUITE}\s", text)
        if match:
            return match[1]
    raise PreconditionFailed(f"apt on this host names no Debian mirror for {SUITE}",
                             f"add a `{SUITE}` entry to /etc/apt/sources.list.d (or run on Debian 12)")


def _build(partial: Path, recipe: dict, password: str, mirror: str) -> None:
    """Partition, format, debootstrap and configure; every mount and the loop device go in the end."""
    os.truncate(partial, DISK_BYTES)
    _run(["sfdisk", "--quiet", str(partial)], "sfdisk", recipe["sfdisk"])  # MBR: one bootable partition
    fs_uuid = str(uuid.uuid4())
    with contextlib.ExitStack() as cleanup:
        loop = _run(["losetup", "--find", "--show", "--partscan", str(partial)], "losetup").strip()
        cleanup.callback(_run, ["losetup", "--detach", loop], "losetup --detach")
        cleanup.callback(_run, ["sync"], "sync")
        part = _partition(loop)
        _run(["mkfs.ext4", *recipe["mkfs"], "-U", fs_uuid, part], "mkfs.ext4")
        root = Path(tempfile.mkdtemp(dir=partial.parent, prefix=".debian-root-"))
        cleanup.callback(_rmdir, root)  # rmdir, never rmtree: a failed unmount must leave the tree alone
        _mount(cleanup, [part, str(root)])
        _debootstrap(root, recipe, mirror)
        _configure(root, recipe, fs_uuid, loop, part, password)


def _partition(loop: str) -> str:
    """The loop device's first partition; partx adds it when the kernel cannot read an MBR itself."""
    part = f"{loop}p1"
    for attempt in range(2):
        if attempt:
            subprocess.run(["partx", "--add", "--nr", "1", loop], capture_output=True, check=False)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if Path(part).is_block_device():
                return part
            time.sleep(0.05)
    raise PreconditionFailed(f"{part} never appeared after losetup --partscan and partx --add", FIX)


def _debootstrap(root: Path, recipe: dict, mirror: str) -> None:
    command = ["debootstrap", f"--variant={recipe['variant']}", f"--arch={recipe['arch']}",
               f"--include={','.join(recipe['packages'])}", recipe["suite"], str(root), mirror]
    try:
        _run(command, "debootstrap", timeout=3600, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    except PreconditionFailed as exc:
        log = root / "debootstrap" / "debootstrap.log"
        detail = log.read_text(errors="replace").strip()[-500:] if log.exists() else ""
        raise PreconditionFailed(f"{exc.message} {detail}".strip(), "check apt's mirror (apt-get update)") from exc


def _configure(root: Path, recipe: dict, fs_uuid: str, loop: str, part: str, password: str) -> None:
    """The files, the user, GRUB; then empty caches and discard their blocks so the image stays sparse."""
    for name, content in recipe["files"].items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content.replace("{uuid}", fs_uuid))
    (root / "etc" / "resolv.conf").unlink(missing_ok=True)  # debootstrap's copy of this host's
    shadow = (root / "etc" / "shadow").read_text()
    if not re.search(r"(?m)^root:[*!]", shadow):
        raise PreconditionFailed("debootstrap left root with a password; the image needs it locked", FIX)
    with contextlib.ExitStack() as binds:
        for name in ("dev", "proc", "sys"):
            _mount(binds, ["--bind", f"/{name}", str(root / name)])
        binds.enter_context(_uuid_link(fs_uuid, part))  # update-grub writes root=UUID= only if it exists
        for what, step in recipe["steps"]:
            stdin = f"{USER}:{password}\n" if what == "chpasswd" else None
            _run(["chroot", str(root), *step.format(loop=loop).split()], what, stdin, env=CHROOT_ENV)
    for junk in [*root.glob("var/cache/apt/archives/*.deb"), *root.glob("var/lib/apt/lists/*_*")]:
        junk.unlink()
    _run(["sync", "--file-system", str(root)], "sync")  # ext4 frees deleted blocks at the commit, for fstrim
    subprocess.run(["fstrim", str(root)], capture_output=True, check=False)  # best effort: only the size


@contextlib.contextmanager
def _uuid_link(fs_uuid: str, part: str) -> Iterator[None]:
    """/dev/disk/by-uuid/UUID, which udev makes and a host without udev (a container) lacks."""
    link = Path("/dev/disk/by-uuid") / fs_uuid
    made = [path for path in (link.parent.parent, link.parent) if not path.exists()]
    for path in made:
        path.mkdir()
    ours = False
    with contextlib.suppress(FileExistsError):
        if not link.exists():
            link.symlink_to(Path("../..") / Path(part).name)
            ours = True
    try:
        yield
    finally:
        if ours:
            link.unlink(missing_ok=True)
        for path in reversed(made):
            with contextlib.suppress(OSError):
                path.rmdir()


def _mount(stack: contextlib.ExitStack, args: list[str]) -> None:
    _run(["mount", *args], "mount")
    stack.callback(_unmount, args[-1])


def _unmount(path: str) -> None:
    """Unmount, lazily if busy, so that nothing stays mounted (the lazy one lets go once unused)."""
    if subprocess.run(["umount", path], capture_output=True, check=False).returncode != 0:
        _run(["umount", "--lazy", path], "umount")


def _rmdir(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def _run(command: list[str], what: str, stdin: str | None = None, timeout: float = 600,
         env: dict[str, str] | None = None) -> str:
    """Run one build step; a failure is PreconditionFailed with the end of the step's stderr."""
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=timeout, env=env,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PreconditionFailed(f"building the Debian guest failed at {what}: {exc}", FIX) from exc
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip())[-500:]
        raise PreconditionFailed(f"building the Debian guest failed at {what} ({' '.join(command)}): {detail}", FIX)
    return done.stdout
