"""Finding a dataset's files.

Resolution order, per split (design §5): an explicit path given by the user →
``$NLPPLAT_DATA_DIR/<folder>/`` (an offline mirror) → the cache
``~/.cache/nlpplat/datasets/<folder>/`` → generating it (synthetic datasets) →
downloading it from the spec's URL with a progress bar and a sha256 check. When none
works, one error names the files expected and where to put them.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from nlpplat.contracts import DatasetSpec
from nlpplat.errors import MissingDataError, NlpplatError

SPLITS = ("train", "dev", "test")
CUSTOM = "custom"  # the dataset name of runs on explicit --train/--dev/--test files only
DATA_DIR_VARIABLE = "NLPPLAT_DATA_DIR"


def cache_root() -> Path:
    """``$NLPPLAT_CACHE`` or ``$XDG_CACHE_HOME/nlpplat`` or ``~/.cache/nlpplat``."""
    if "NLPPLAT_CACHE" in os.environ:
        return Path(os.environ["NLPPLAT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nlpplat"


def search_folders(spec: DatasetSpec) -> list[Path]:
    """Where a dataset's files are looked for, in order."""
    folders = []
    if os.environ.get(DATA_DIR_VARIABLE):
        folders.append(Path(os.environ[DATA_DIR_VARIABLE]) / spec.folder)
    folders.append(cache_root() / "datasets" / spec.folder)
    return folders


def _variants(name: str) -> list[str]:
    """A file may be stored compressed or not: ``x.gz`` also matches ``x`` and vice versa."""
    return [name, name[: -len(".gz")]] if name.endswith(".gz") else [name, name + ".gz"]


def _is_prefix(path: Path) -> bool:
    """Whether ``path`` is the common prefix of files such as ``path.en`` and ``path.de``."""
    return path.parent.is_dir() and any(path.parent.glob(f"{glob.escape(path.name)}.*"))


def find_in(folder: Path, name: str) -> Path | None:
    for variant in _variants(name):
        if (folder / variant).is_file():
            return folder / variant
    return None


def resolve_files(
    spec: DatasetSpec,
    explicit: Mapping[str, str | os.PathLike[str] | None] | None = None,
    download: bool = True,
    splits: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Paths of the splits of ``spec`` (explicit paths take precedence over the spec).

    ``splits`` limits the search to those splits (default: all of them and every explicit one).
    """
    explicit = {
        split: Path(path)
        for split, path in (explicit or {}).items()
        if path and (splits is None or split in splits)
    }
    for split, path in explicit.items():
        if not (path.is_file() or _is_prefix(path)):
            raise MissingDataError(f"--{split} {path}: no such file (nor files {path}.*)")
    wanted = [split for split in spec.files if splits is None or split in splits]
    missing = [split for split in wanted if split not in explicit]
    found = dict(explicit)
    for split in missing:
        for folder in search_folders(spec):
            path = find_in(folder, spec.files[split])
            if path and all(find_in(folder, name) for name in spec.extra_files.get(split, ())):
                found[split] = path
                break
    missing = [split for split in wanted if split not in found]
    if missing and spec.generate is not None:
        folder = cache_root() / "datasets" / spec.folder
        _generate(spec, folder)
        found.update({split: folder / spec.files[split] for split in missing})
        missing = []
    if missing and download and all(key in spec.urls for split in missing for key in spec.split_files(split)):
        folder = cache_root() / "datasets" / spec.folder
        for split in missing:
            for key, name in spec.split_files(split).items():
                if not find_in(folder, name):
                    download_file(spec.urls[key], folder / name, spec.sha256.get(key))
            found[split] = find_in(folder, spec.files[split])  # type: ignore[assignment]
        missing = []
    if missing:
        raise MissingDataError(_missing_message(spec, missing))
    return found


def _generate(spec: DatasetSpec, folder: Path) -> None:
    """Write a synthetic dataset into a temporary folder, then move it into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as temporary:
        spec.generate(Path(temporary))  # type: ignore[misc]
        folder.mkdir(exist_ok=True)
        for split in spec.files:
            for name in spec.split_files(split).values():
                os.replace(Path(temporary) / name, folder / name)


def _missing_message(spec: DatasetSpec, missing: list[str]) -> str:
    files = ", ".join(name for split in missing for name in spec.split_files(split).values())
    places = " or ".join(str(folder) for folder in search_folders(spec))
    how = spec.manual or (
        "It could not be downloaded (offline?)." if spec.urls else "It has no download source."
    )
    return (
        f"Dataset {spec.name!r} (task {spec.task}) is missing {files}. Put them in {places} "
        f"(set {DATA_DIR_VARIABLE} to a mirror folder), or pass --train/--dev/--test PATH. {how}"
    )


def download_file(url: str, destination: Path, sha256: str | None) -> Path:
    """Download ``url`` to ``destination`` with a progress bar, checking ``sha256``.

    The digest is of the file's content: of the decompressed bytes for a ``.gz``
    destination, so that one digest fits a corpus whether it is stored compressed or not.
    """
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn()) as bar:
                task = bar.add_task(f"download {destination.name}", total=total)
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.advance(task, len(chunk))
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise MissingDataError(f"Could not download {url}: {error}") from None
    try:
        digest = _content_digest(partial, compressed=destination.name.endswith(".gz"))
    except (OSError, EOFError) as error:  # not gzip, or cut short
        partial.unlink(missing_ok=True)
        raise NlpplatError(
            f"{url}: the download is not a readable gzip file ({error}); the file was not kept"
        ) from None
    if sha256 and digest != sha256:
        partial.unlink(missing_ok=True)
        raise NlpplatError(f"{url}: sha256 is {digest}, expected {sha256}; the file was not kept")
    shutil.move(partial, destination)
    return destination


def _content_digest(path: Path, compressed: bool) -> str:
    """sha256 of the file's bytes, decompressed first when ``compressed``."""
    digest = hashlib.sha256()
    with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def content_checksum(paths: Mapping[str, Path | Sequence[Path]]) -> str:
    """sha256 over the (decompressed) content of the splits, so that gzip does not matter.

    A split may be several files (:meth:`nlpplat.Task.files`); they are hashed in order.
    """
    from nlpplat.io import open_text

    digest = hashlib.sha256()
    for split in sorted(paths):
        digest.update(f"{split}\0".encode())
        files = paths[split]
        for path in [files] if isinstance(files, Path) else files:
            with open_text(path) as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk.encode("utf-8"))
    return digest.hexdigest()
