"""Opening a district's file bundle (a ``.zip`` or a directory of CSV) as hostile input.

A bundle is read only from where the district's config says, or from the district's upload
folder that only the console writes (:func:`check_bundle_allowed`), and
only as a snapshot: :func:`open_bundle` checks it and copies its CSV files into the run's own
working folder ``<warehouse>/work/<district_id>/<run_id>/`` (:func:`run_work_dir`), which the
landers read and the raw archive copies. Refused, with :class:`BundleRefused` naming the file or
member and the reason, before a byte lands:

- a bundle path that is a symbolic link, or a directory bundle with a symbolic link among its
  entries; only regular ``.csv`` files at the top level of a directory are read;
- zip members, checked from the central directory before anything is extracted: more than
  :attr:`BundleLimits.max_members`, a declared total over :attr:`BundleLimits.max_total_bytes`,
  a member over 1 MiB compressed more than :attr:`BundleLimits.max_ratio` : 1, a name that is
  absolute, has a drive letter, a backslash or a ``..`` part, two CSV members with the same base
  name (case-insensitive: members are flattened), a symbolic link, an encrypted member, an
  unsupported compression method;
- while streaming: a member writing more than it declared or a total past the limit (declared
  sizes can lie), and a member whose data is damaged.

``ROSTERSYNC_BUNDLE_MAX_BYTES`` overrides the total size limit (bytes, read at run time).

Every CSV file is also decoded on its way in (:mod:`~rostersync_pipeline.lib.ingest.encodings`):
the work folder holds UTF-8 only. A file with a byte that does not decode in its encoding (its
byte-order mark's, else ``source.encoding``) is left out of the work folder, and is one blocking
``INVALID_ENCODING`` problem of :class:`OpenedBundle` naming file, line, byte offset and
encoding; the rest of the bundle is copied.
"""

from __future__ import annotations

import errno
import lzma
import os
import re
import shutil
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from rostersync_pipeline.lib.ingest.encodings import UTF8, Undecodable, copy_as_utf8
from rostersync_pipeline.lib.ingest.landing import CANONICAL_ENTITIES, FetchProblem, FetchResult

if TYPE_CHECKING:
    from rostersync_pipeline.lib.ingest.providers.base import FileSourceSettings

MAX_BYTES_ENV = "ROSTERSYNC_BUNDLE_MAX_BYTES"
MIB = 1 << 20
GIB = 1 << 30
CHUNK_BYTES = MIB
SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
READ_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError)


class BundleRefused(ValueError):
    """A bundle (or one of its files / members) that is not landed; nothing of it lands.

    ``location`` is the bundle's own name, or ``<bundle>:<member>`` / ``<bundle>/<file>``,
    never a full path.
    """

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason

    def fetch_result(self, provider: str) -> FetchResult:
        """The landing of a refused bundle: nothing landed, one blocking ``BUNDLE_REFUSED``."""
        return FetchResult(
            provider=provider,
            entity_modes={entity: "absent" for entity in CANONICAL_ENTITIES},
            problems=[FetchProblem(self.location, self.reason, error_code="BUNDLE_REFUSED",
                                   record_type="file")],
        )


@dataclass(frozen=True)
class BundleLimits:
    """What one bundle may hold; the defaults leave room for a large district's nightly export."""

    max_total_bytes: int = 8 * GIB
    max_ratio: int = 200
    ratio_checked_over_bytes: int = MIB
    max_members: int = 200

    @classmethod
    def from_env(cls) -> BundleLimits:
        """The defaults, with ``ROSTERSYNC_BUNDLE_MAX_BYTES`` (a positive integer) if set."""
        value = os.environ.get(MAX_BYTES_ENV, "").strip()
        if not value:
            return cls()
        if not (value.isascii() and value.isdigit() and int(value) > 0):
            raise ValueError(f"{MAX_BYTES_ENV}={value!r}: expected a positive number of bytes")
        return cls(max_total_bytes=int(value))


def district_work_dir(warehouse_dir: Path | str, district_id: str) -> Path:
    """``<warehouse>/work/<district_id>``: where the district's runs unpack their bundles."""
    return Path(warehouse_dir) / "work" / _safe(district_id)


def remove_stale_work(warehouse_dir: Path | str, district_id: str) -> list[Path]:
    """Remove what killed runs of the district left unpacked; returns the removed run folders.

    Call it only while holding the district's run lock (no run of the district is under way).
    """
    root = district_work_dir(warehouse_dir, district_id)
    if not root.is_dir():
        return []
    stale = sorted(root.iterdir())
    for path in stale:
        _remove(path)
    return stale


@contextmanager
def run_work_dir(warehouse_dir: Path | str, district_id: str, run_id: str) -> Iterator[Path]:
    """The run's empty working folder, removed with all it holds however the block ends."""
    path = district_work_dir(warehouse_dir, district_id) / _safe(run_id)
    _remove(path)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        _remove(path)


def district_upload_dir(warehouse_dir: Path | str, district_id: str) -> Path:
    """``<warehouse>/uploads/<district_id>``: bundles uploaded in the console, written there
    (complete, by rename) by the console only; no sensor watches it."""
    return Path(warehouse_dir) / "uploads" / _safe(district_id)


def check_bundle_allowed(bundle: Path, source: FileSourceSettings,
                         upload_dir: Path | None = None) -> None:
    """Refuse a bundle that is not the district's ``source.path``, an entry of ``drop_folder``
    or an entry of the district's ``upload_dir`` (:func:`district_upload_dir`, when given).

    Paths are compared with their folders resolved (``..`` and symlinked folders included) and
    their last part as named, so a symlink placed there passes this check and is refused by
    :func:`open_bundle` with its own reason.
    """
    seen = _resolved_entry(bundle)
    if source.path and seen == _resolved_entry(Path(source.path)):
        return
    if source.drop_folder and seen.parent == Path(os.path.realpath(source.drop_folder)):
        return
    if upload_dir is not None and seen.parent == Path(os.path.realpath(upload_dir)):
        return
    raise BundleRefused(
        _shown(seen.name or str(bundle)),
        "not the district's configured source.path, a bundle directly inside its "
        "source.drop_folder, nor one uploaded in the console; a run lands only from those",
    )


@dataclass
class OpenedBundle:
    """The bundle's CSV files copied as UTF-8 into ``directory``, and the files left out
    because they do not decode (``unreadable``: lower-cased stems; ``problems``: one blocking
    ``INVALID_ENCODING`` each)."""

    directory: Path
    encoding: str = UTF8
    problems: list[FetchProblem] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)
    encodings: dict[str, str] = field(default_factory=dict)
    """File name -> the encoding it was read in (``utf-16-le`` for a file with that mark)."""

    def files(self) -> dict[str, Path]:
        return find_files(self.directory)

    def refuse(self, file_name: str, target: Path, exc: Undecodable) -> None:
        target.unlink(missing_ok=True)
        self.unreadable.add(PurePosixPath(file_name).stem.lower())
        self.problems.append(FetchProblem(
            _shown(file_name),
            f"cannot be read as {exc.encoding}: {exc}; the file was not landed and nothing is "
            f"deactivated this run. Declare source.encoding (it is {self.encoding}) or export "
            "the file as UTF-8",
            row=exc.line, error_code="INVALID_ENCODING", record_type="file",
        ))


def open_bundle(bundle: Path, work_dir: Path, *, limits: BundleLimits | None = None,
                encoding: str = UTF8) -> OpenedBundle:
    """Check ``bundle`` and copy its CSV files, as UTF-8, into ``work_dir``.

    ``encoding`` is the district's declared ``source.encoding`` (a codec name, see
    :func:`encodings.normalize_encoding`). Raises :class:`BundleRefused`; on any failure
    ``work_dir`` is removed. On success the caller removes it (see :func:`run_work_dir`).
    """
    limits = limits or BundleLimits.from_env()
    name = _shown(bundle.name)
    work_dir.mkdir(parents=True, exist_ok=True)
    opened = OpenedBundle(work_dir, encoding=encoding)
    try:
        fd = _open_no_follow(bundle, name)
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            try:
                _copy_directory(fd, name, opened, limits)
            finally:
                os.close(fd)
        elif stat.S_ISREG(mode):
            with os.fdopen(fd, "rb") as handle:
                _extract_zip(handle, name, opened, limits)
        else:
            os.close(fd)
            raise BundleRefused(name, "not a .zip file or a directory")
    except BaseException:
        _remove(work_dir)
        raise
    return opened


def find_files(directory: Path) -> dict[str, Path]:
    """Bundle files by lower-cased stem (``userprofiles.csv`` and ``userProfiles.csv`` alike)."""
    return {p.stem.lower(): p for p in directory.iterdir() if p.suffix.lower() == ".csv"}


def _copy_directory(dir_fd: int, name: str, opened: OpenedBundle, limits: BundleLimits) -> None:
    with os.scandir(dir_fd) as scan:
        entries = list(scan)
    if len(entries) > limits.max_members:
        raise BundleRefused(name, f"holds {len(entries)} entries; at most "
                                  f"{limits.max_members} are allowed")
    for entry in entries:
        if entry.is_symlink():
            raise BundleRefused(f"{name}/{_shown(entry.name)}",
                                "is a symbolic link; a bundle holds regular files only")
    csv_files = [e for e in entries
                 if e.name.lower().endswith(".csv") and e.is_file(follow_symlinks=False)]
    _refuse_duplicates(name, "/", [e.name for e in csv_files])
    declared = sum(e.stat(follow_symlinks=False).st_size for e in csv_files)
    _refuse_total(name, declared, limits)
    budget = _Budget(limits.max_total_bytes)
    for entry in csv_files:
        location = f"{name}/{_shown(entry.name)}"
        fd = _open_no_follow(Path(entry.name), location, dir_fd=dir_fd)
        with os.fdopen(fd, "rb") as source:
            if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
                raise BundleRefused(location, "is not a regular file")
            _stream(source, entry.name, opened, location, budget, declared=None)


def _extract_zip(handle: BinaryIO, name: str, opened: OpenedBundle, limits: BundleLimits) -> None:
    try:
        archive = zipfile.ZipFile(handle)
    except (*READ_ERRORS, ValueError) as exc:
        raise BundleRefused(name, f"not a .zip file or a directory ({exc})") from exc
    with archive:
        members = _checked_members(archive, name, limits)
        budget = _Budget(limits.max_total_bytes)
        for member in members:
            location = f"{name}:{_shown(member.filename)}"
            try:
                source = archive.open(member)
            except READ_ERRORS as exc:
                raise BundleRefused(location, f"cannot be read: it is damaged ({exc})") from exc
            with source:
                _stream(source, PurePosixPath(member.filename).name, opened, location,
                        budget, declared=member.file_size)


def _checked_members(archive: zipfile.ZipFile, name: str,
                     limits: BundleLimits) -> list[zipfile.ZipInfo]:
    """The CSV members to extract, once every member passed the central-directory checks."""
    members = archive.infolist()
    if len(members) > limits.max_members:
        raise BundleRefused(name, f"holds {len(members)} members; at most "
                                  f"{limits.max_members} are allowed")
    for member in members:
        problem = _member_problem(member, limits)
        if problem:
            raise BundleRefused(f"{name}:{_shown(member.filename)}", problem)
    csv_members = [m for m in members
                   if not m.is_dir() and m.filename.lower().endswith(".csv")]
    _refuse_duplicates(name, ":", [m.filename for m in csv_members])
    _refuse_total(name, sum(m.file_size for m in members), limits)
    return csv_members


def _member_problem(member: zipfile.ZipInfo, limits: BundleLimits) -> str | None:
    filename = member.filename
    if filename.startswith("/") or DRIVE_LETTER.match(filename):
        return "member name is an absolute path; a bundle's members are plain file names"
    if "\\" in filename:
        return "member name holds a backslash; a bundle's members are plain file names"
    if ".." in PurePosixPath(filename).parts:
        return "member name holds '..'; a bundle's members are plain file names"
    if stat.S_ISLNK(member.external_attr >> 16):
        return "member is a symbolic link; a bundle holds regular files only"
    if member.flag_bits & 0x1:
        return "member is encrypted; send the bundle without a password"
    if member.compress_type not in ZIP_METHODS:
        return f"member uses compression method {member.compress_type}, which is not supported"
    if (member.file_size > limits.ratio_checked_over_bytes
            and member.file_size > limits.max_ratio * max(member.compress_size, 1)):
        return (f"member declares {member.file_size} bytes from {member.compress_size} "
                f"compressed (more than {limits.max_ratio}:1); refused as a zip bomb")
    return None


def _refuse_duplicates(name: str, separator: str, filenames: list[str]) -> None:
    seen: dict[str, str] = {}
    for filename in filenames:
        base = PurePosixPath(filename).name.lower()
        if base in seen:
            raise BundleRefused(
                f"{name}{separator}{_shown(filename)}",
                f"has the same file name as {_shown(seen[base])} (names are compared "
                "case-insensitively, without folders); the bundle is ambiguous",
            )
        seen[base] = filename


def _refuse_total(name: str, declared: int, limits: BundleLimits) -> None:
    if declared > limits.max_total_bytes:
        raise BundleRefused(name, f"declares {declared} bytes uncompressed; at most "
                                  f"{limits.max_total_bytes} are allowed ({MAX_BYTES_ENV})")


@dataclass
class _Budget:
    """Bytes the bundle may still write into the work folder, whatever its members declare."""

    left: int

    def spend(self, count: int, location: str) -> None:
        self.left -= count
        if self.left < 0:
            raise BundleRefused(location, "the bundle writes more than its size limit "
                                          f"({MAX_BYTES_ENV}); refused as a zip bomb")


class _CheckedReader:
    """``source`` read in chunks, refusing past ``declared`` bytes or the bundle's budget.

    (``zipfile`` itself stops at the declared size and then fails the CRC check; the counter
    does not rely on that.)
    """

    def __init__(self, source: BinaryIO, location: str, budget: _Budget,
                 declared: int | None) -> None:
        self.source = source
        self.location = location
        self.budget = budget
        self.declared = declared
        self.read_bytes = 0

    def read(self, size: int) -> bytes:
        try:
            chunk = self.source.read(size)
        except READ_ERRORS as exc:
            raise BundleRefused(self.location, f"cannot be read: it is damaged or its data "
                                               f"does not match its declared size ({exc})") from exc
        self.read_bytes += len(chunk)
        if self.declared is not None and self.read_bytes > self.declared:
            raise BundleRefused(self.location, f"inflates past the {self.declared} bytes it "
                                               "declares; refused as a zip bomb")
        self.budget.spend(len(chunk), self.location)
        return chunk


def _stream(source: BinaryIO, file_name: str, opened: OpenedBundle, location: str,
            budget: _Budget, declared: int | None) -> None:
    """Copy one CSV file into the work folder as UTF-8 (:func:`encodings.copy_as_utf8`); a
    file that does not decode is removed again and recorded in ``opened``."""
    target = opened.directory / file_name
    reader = _CheckedReader(source, location, budget, declared)
    try:
        with open(target, "xb") as out:
            opened.encodings[file_name] = copy_as_utf8(reader, out.write,
                                                       declared=opened.encoding,
                                                       chunk_bytes=CHUNK_BYTES)
    except Undecodable as exc:
        opened.refuse(file_name, target, exc)


def _open_no_follow(path: Path, location: str, *, dir_fd: int | None = None) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        return os.open(path, flags, dir_fd=dir_fd)
    except FileNotFoundError as exc:
        raise BundleRefused(location, "not found") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BundleRefused(location, "is a symbolic link; a bundle is read only from "
                                          "where it really is") from exc
        raise BundleRefused(location, f"cannot be opened: {exc.strerror}") from exc


def _resolved_entry(path: Path) -> Path:
    """``path`` with its folder resolved and its last part kept as named (``..`` resolved)."""
    if path.name in ("", ".", ".."):
        return Path(os.path.realpath(path))
    return Path(os.path.realpath(path.parent)) / path.name


def _shown(name: str) -> str:
    """A member or file name as it may appear in an error: printable, at most 200 characters."""
    printable = "".join(c if c.isprintable() else "?" for c in name)
    return printable if len(printable) <= 200 else printable[:197] + "..."


def _safe(component: str) -> str:
    if not SAFE_NAME.match(component) or component in (".", ".."):
        raise ValueError(f"unsafe path component {component!r}")
    return component


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
