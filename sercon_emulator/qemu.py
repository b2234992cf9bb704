"""A real Linux guest under QEMU: Debian's cloud kernel and a busybox initramfs with a getty and login.

Built on demand into a cache folder (nothing is checked in): the kernel package is downloaded with
`apt-get download` and unpacked with `dpkg-deb` (not installed); the uncompressed ELF is taken out
of it, since it boots and resets faster than the compressed image. The guest prints on ttyS0,
which QEMU serves as a telnet server; QMP answers on a Unix socket.
"""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sercon.errors import PreconditionFailed

HOSTNAME = "sercon-guest"
USER = "guest"
KERNEL_META = "linux-image-cloud-amd64"
INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /tmp /home/{USER}
mount -t devpts devpts /dev/pts
echo 1 > /proc/sys/kernel/sysrq
hostname {HOSTNAME}
chown 1000:1000 /home/{USER}
for arg in $(cat /proc/cmdline); do  # as Debian's initramfs-tools honours them (sercon rescue's modes)
  case "$arg" in
    sercon.nobash) rm -f /bin/bash ;;  # a guest without bash, for rescue's tests
    break=*) echo "Spawning shell within the initramfs"; PS1='(initramfs) ' /bin/busybox sh ;;
    init=*) exec "${{arg#init=}}" ;;
  esac
done
exec /bin/busybox init
"""
# So that `init=/bin/bash` (sercon rescue's first mode) finds a shell, as on a distribution.
BASH = "#!/bin/busybox sh\nexec /bin/busybox sh \"$@\"\n"
INITTAB = "ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100\n::ctrlaltdel:/sbin/reboot\n"
PROFILE = "export PS1='\\u@\\h:\\w\\$ '\nexport PATH=/bin:/sbin:/usr/bin:/usr/sbin\n"


def missing_tools() -> list[str]:
    return [tool for tool in ("qemu-system-x86_64", "busybox", "lz4", "apt-get", "dpkg-deb")
            if shutil.which(tool) is None]


@dataclass(frozen=True)
class GuestImage:
    kernel: Path
    initrd: Path
    password: str


def build_image(cache: Path, password: str) -> GuestImage:
    cache.mkdir(parents=True, exist_ok=True)
    try:
        return GuestImage(kernel_file(cache), initramfs(cache, password), password)
    except subprocess.CalledProcessError as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        detail = stderr.strip()[-300:]
        raise PreconditionFailed(f"building the guest failed: {' '.join(map(str, exc.cmd))}: {detail}",
                                 "check apt (apt-get update), busybox-static and lz4") from exc


def kernel_file(cache: Path) -> Path:
    """The cloud kernel's uncompressed ELF (falls back to the bzImage if it cannot be taken out)."""
    existing = sorted(cache.glob("vmlinux-*")) or sorted(cache.glob("vmlinuz-*"))
    if existing:
        return existing[-1]
    depends = subprocess.run(["apt-cache", "depends", KERNEL_META], capture_output=True, text=True, check=False)
    match = re.search(r"Depends: (linux-image-\S+-cloud-amd64)", depends.stdout)
    if match is None:
        raise PreconditionFailed(f"apt knows no {KERNEL_META}", "run `apt-get update` (Debian or Ubuntu needed)")
    with tempfile.TemporaryDirectory(dir=cache) as work:
        subprocess.run(["apt-get", "download", match[1]], cwd=work, check=True, capture_output=True)
        deb = next(Path(work).glob("*.deb"))
        tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", work, "--wildcards", "./boot/vmlinuz-*"], input=tar, check=True)
        image = next(Path(work).glob("boot/vmlinuz-*"))
        target = cache / image.name
        shutil.move(str(image), target)
    elf = cache / target.name.replace("vmlinuz", "vmlinux")
    if _extract_elf(target, elf):
        return elf
    return target


def _extract_elf(image: Path, out: Path) -> bool:
    """The kernel's own extract-vmlinux method: find the compressed payload, unpack, check for ELF."""
    data = image.read_bytes()
    start = data.find(b"\x02\x21\x4c\x18")  # lz4 legacy frame, as Debian's cloud kernel uses
    if start < 0 or shutil.which("lz4") is None:
        return False
    done = subprocess.run(["lz4", "-dc"], input=data[start:], capture_output=True, check=False)
    if not done.stdout.startswith(b"\x7fELF"):
        return False
    out.write_bytes(done.stdout)
    return True


def initramfs(cache: Path, password: str) -> Path:
    busybox = Path(shutil.which("busybox") or "/bin/busybox")
    if b"ld-linux" in busybox.read_bytes()[:65536]:  # a dynamic busybox cannot be init of a bare initramfs
        raise PreconditionFailed(f"{busybox} is linked dynamically", "apt-get install busybox-static")
    hashed = subprocess.run([str(busybox), "mkpasswd", "-m", "sha512", "-P", "0"], input=password,
                            capture_output=True, text=True, check=True).stdout.strip()  # stdin: "-x" is no option
    files = {
        "init": (INIT.encode(), 0o100755),
        "bin/busybox": (busybox.read_bytes(), 0o100755),
        "bin/bash": (BASH.encode(), 0o100755),
        "etc/inittab": (INITTAB.encode(), 0o100644),
        "etc/passwd": (f"root:x:0:0:root:/root:/bin/sh\n{USER}:x:1000:1000:{USER}:/home/{USER}:/bin/sh\n".encode(),
                       0o100644),
        "etc/shadow": (f"root:*:19000:0:99999:7:::\n{USER}:{hashed}:19000:0:99999:7:::\n".encode(), 0o100600),
        "etc/group": (f"root:x:0:\n{USER}:x:1000:\n".encode(), 0o100644),
        "etc/profile": (PROFILE.encode(), 0o100644),
        "etc/hostname": (f"{HOSTNAME}\n".encode(), 0o100644),
    }
    dirs = ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home"]
    archive = io.BytesIO()
    inode = 1
    for name in dirs:
        archive.write(_cpio_entry(name, 0o40755, b"", inode))
        inode += 1
    archive.write(_cpio_entry("dev/console", 0o20600, b"", inode, rdev=(5, 1)))
    inode += 1
    archive.write(_cpio_entry("bin/sh", 0o120777, b"busybox", inode))  # so `rdinit=/bin/sh` is a root shell
    for name, (content, mode) in files.items():
        inode += 1
        archive.write(_cpio_entry(name, mode, content, inode))
    archive.write(_cpio_entry("TRAILER!!!", 0, b"", 0))
    path = cache / "initramfs.cpio.gz"
    path.write_bytes(gzip.compress(archive.getvalue(), compresslevel=1))
    return path


def _cpio_entry(name: str, mode: int, data: bytes, inode: int, rdev: tuple[int, int] = (0, 0)) -> bytes:
    encoded = name.encode() + b"\0"
    fields = [inode, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0]
    header = b"070701" + b"".join(f"{value:08X}".encode() for value in fields)
    pad = lambda n: b"\0" * (-n % 4)  # noqa: E731
    return header + encoded + pad(len(header) + len(encoded)) + data + pad(len(data))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """QEMU must not outlive a crashed test or demo (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)


class QemuGuest:
    """One running guest: `telnet_url` is its serial port, `qmp_path` its QMP socket."""

    def __init__(self, image: GuestImage | None, folder: Path, serial: str = "telnet", boot_iso: Path | None = None,
                 disk: Path | None = None) -> None:
        """*serial*: "telnet" (a telnet server on loopback) or "pty" (a pseudo-terminal, `pty_path`).
        *boot_iso*: boot through this image's boot loader (GRUB) instead of loading the kernel directly.
        *disk*: boot this raw disk image instead (a whole distribution, e.g. debian_guest's; *image* is
        then unused), with KVM when it can be had, and never write to it (snapshot=on)."""
        self.image, self.folder, self.serial, self.boot_iso, self.disk = image, folder, serial, boot_iso, disk
        self.port = free_port()
        self.pty_path = ""
        self.qmp_path = str(folder / "qmp.sock")
        self.serial_log = folder / "serial.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def telnet_url(self) -> str:
        return f"telnet://127.0.0.1:{self.port}"

    def start(self) -> QemuGuest:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            "qemu-system-x86_64", *self._machine(), "-no-user-config", "-nodefaults",
            *self._boot(),
            "-chardev", self._chardev(),
            "-serial", "chardev:serial0",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
            "-monitor", "none",
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 30
        if self.serial == "pty":  # QEMU says where on stdout: "char device redirected to /dev/pts/N (label serial0)"
            line = self.process.stdout.readline().decode()
            match = re.search(r"redirected to (/dev/pts/\d+)", line)
            if match is None:
                raise PreconditionFailed(f"QEMU gave no pty: {line.strip()}")
            self.pty_path = match[1]
        while not (Path(self.qmp_path).exists() and (self.serial == "pty" or _listening(self.port))):
            if self.process.poll() is not None:
                raise PreconditionFailed(f"QEMU did not start: {self.process.stderr.read().decode()[-300:]}")
            if time.monotonic() > deadline:
                raise PreconditionFailed("QEMU did not open its sockets within 30 s")
            time.sleep(0.05)
        return self

    def _machine(self) -> list[str]:
        """A disk guest is a whole distribution: more memory, KVM when kvm_usable(), and a screen (GRUB
        draws on "serial console" as on Azure). -nographic would have SeaBIOS copy the screen's text to
        the serial line, so it gets -display none instead."""
        if self.disk is None:
            return ["-accel", "tcg", "-m", "256M", "-nographic"]
        return ["-accel", "kvm" if kvm_usable() else "tcg", "-m", "512M", "-display", "none", "-vga", "std"]

    def _boot(self) -> list[str]:
        if self.disk is not None:
            return ["-drive", f"file={str(self.disk).replace(',', ',,')},format=raw,if=virtio,snapshot=on"]
        if self.boot_iso is not None:
            return ["-cdrom", str(self.boot_iso), "-boot", "d"]
        return ["-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd),
                "-append", "console=ttyS0,115200 panic=1 loglevel=6"]

    def _chardev(self) -> str:
        log = f"logfile={self.serial_log},logappend=on"
        if self.serial == "pty":
            return f"pty,id=serial0,{log}"
        return f"socket,id=serial0,host=127.0.0.1,port={self.port},server=on,wait=off,telnet=on,{log}"

    def wait_for(self, text: bytes, timeout: float = 60.0, after: int = 0) -> int:
        """Wait until the serial log (what the guest printed) shows *text*; returns where it ends."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.serial_log.read_bytes() if self.serial_log.exists() else b""
            found = data.find(text, after)
            if found >= 0:
                return found + len(text)
            time.sleep(0.1)
        raise TimeoutError(f"the guest never printed {text!r}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.qmp_path)


def kvm_usable() -> bool:
    """/dev/kvm opens read-write (users outside group kvm may not) on a CPU with VT-x or AMD-V.

    Without them /dev/kvm is a software stand-in (PVM, in some cloud sandboxes) that emulates the
    BIOS's and GRUB's real mode one instruction at a time: measured, over 10 minutes to the kernel
    against under a minute for the whole boot with TCG."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        flags = re.search(r"(?m)^flags\s*:(.*)$", Path("/proc/cpuinfo").read_text())
    except OSError:
        return False
    return flags is not None and bool({"vmx", "svm"} & set(flags[1].split()))


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0
