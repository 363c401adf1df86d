"""Archive members: what a distribution may hold, whatever the archive format.

Pure: a member's name or type in, a refusal (``InvalidDistribution``) or a problem's text
out. The rule is one for sdists and wheels, tar and zip: names stay inside the archive and
fit a file system; members are regular files and directories only. Installers and build
tools unpack these archives: a link could make them read or write outside the unpacked
tree (``../../etc/shadow``), a device or FIFO could block or read hardware.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
import zlib
from pathlib import PurePosixPath

from generator.errors import InvalidDistribution
from generator.naming import quoted

# Bad members named in one refusal; the rest are counted (the message is one status line).
MAX_MEMBERS_REPORTED = 5
# Longer member names no file system takes (PATH_MAX); a tar header can carry megabytes.
MAX_MEMBER_NAME_LENGTH = 4096
# A zip symlink's target is its content: read this much of it for the message.
_LINK_TARGET_READ = 256
_ZIP_FILE_TYPES = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}

def check_member_name(filename: str, member: str) -> PurePosixPath:
    """The member's path; ``InvalidDistribution`` for an empty, over-long or escaping name."""
    if not member:
        # zipfile's ZipInfo.is_dir() indexes the last character: an empty name crashed it.
        raise InvalidDistribution(filename, "an archive member has an empty name")
    if len(member) > MAX_MEMBER_NAME_LENGTH:
        raise InvalidDistribution(
            filename,
            f"an archive member's name is {len(member)} characters long, the limit is "
            f"{MAX_MEMBER_NAME_LENGTH} (PATH_MAX)",
        )
    path = PurePosixPath(member)
    if member.startswith(("/", "\\")) or ".." in path.parts or "\\" in member or "\0" in member:
        raise InvalidDistribution(
            filename, f"archive member {member!r} escapes the archive (absolute path or '..')"
        )
    return path


def refuse_special_members(filename: str, kind: str, problems: list[str]) -> None:
    """Refuse an archive with links or special files, naming each (``problems``: "member
    'x' is a FIFO"); ``kind`` is "sdist" or "wheel"."""
    if not problems:
        return
    shown = [f"{kind} {problem}" for problem in problems[:MAX_MEMBERS_REPORTED]]
    if len(problems) > MAX_MEMBERS_REPORTED:
        shown.append(f"and {len(problems) - MAX_MEMBERS_REPORTED} more such members")
    article = "an" if kind == "sdist" else "a"
    raise InvalidDistribution(
        filename, f"{'; '.join(shown)}: {article} {kind} holds only regular files and directories"
    )


def zip_member_problem(info: zipfile.ZipInfo) -> str | None:
    """What is wrong with a zip member's file type (its Unix mode, as pip reads it), if any."""
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type in (0, stat.S_IFREG, stat.S_IFDIR):
        return None
    kind = _ZIP_FILE_TYPES.get(file_type, f"a special file (mode {file_type:#o})")
    return f"member {quoted(info.filename)} is {kind}"


def zip_link_target(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    try:
        with archive.open(info) as member:
            data = member.read(_LINK_TARGET_READ)
    # The archive's other faults are reported by the scan; the link is refused anyway.
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error, RuntimeError,
            NotImplementedError):
        return None
    return data.decode("utf-8", "replace")


def tar_member_problem(member: tarfile.TarInfo) -> str | None:
    """What is wrong with a tar member's type, if anything (sparse files are refused apart)."""
    if member.isreg() or member.isdir():
        return None
    name = quoted(member.name)
    if member.issym():
        return f"member {name} is a symbolic link (to {quoted(member.linkname)})"
    if member.islnk():
        return f"member {name} is a hard link (to {quoted(member.linkname)})"
    if member.ischr():
        return f"member {name} is a character device"
    if member.isblk():
        return f"member {name} is a block device"
    if member.isfifo():
        return f"member {name} is a FIFO"
    return f"member {name} is a special file (tar type {member.type!r})"
