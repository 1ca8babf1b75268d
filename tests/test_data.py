"""Finding, generating and downloading dataset files (downloads from file:// URLs: no network)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from nlpplat.contracts import DatasetSpec
from nlpplat.data import content_checksum, download_file, resolve_files
from nlpplat.errors import MissingDataError, NlpplatError

EN, DE = b"A dog runs.\nTwo cats sleep.\n", b"Ein Hund rennt.\nZwei Katzen schlafen.\n"


def upstream(tmp_path: Path) -> Path:
    """An "upstream" folder of gzipped files, as a data repository serves them."""
    folder = tmp_path / "upstream"
    folder.mkdir()
    for name, content in (("val.en.gz", EN), ("val.de.gz", DE)):
        (folder / name).write_bytes(gzip.compress(content))
    return folder


def spec(folder: Path, **overrides) -> DatasetSpec:
    fields = dict(
        name="pairs",
        task="translation",
        files={"dev": "dev.en.gz"},
        extra_files={"dev": ("dev.de.gz",)},
        urls={"dev": (folder / "val.en.gz").as_uri(), "dev.de.gz": (folder / "val.de.gz").as_uri()},
        sha256={"dev": hashlib.sha256(EN).hexdigest(), "dev.de.gz": hashlib.sha256(DE).hexdigest()},
    )
    return DatasetSpec(**{**fields, **overrides})


def test_a_split_and_its_extra_files_download_checked_by_their_content(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NLPPLAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NLPPLAT_DATA_DIR", raising=False)
    paths = resolve_files(spec(upstream(tmp_path)))
    folder = tmp_path / "cache" / "datasets" / "pairs"
    assert paths == {"dev": folder / "dev.en.gz"} and (folder / "dev.de.gz").is_file()
    assert gzip.decompress((folder / "dev.de.gz").read_bytes()) == DE
    assert resolve_files(spec(tmp_path / "gone"), download=False) == paths  # found in the cache now


def test_a_split_is_found_only_with_its_extra_files(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NLPPLAT_CACHE", str(tmp_path / "cache"))
    mirror = tmp_path / "mirror" / "pairs"
    mirror.mkdir(parents=True)
    (mirror / "dev.en").write_bytes(EN)  # uncompressed copies match the .gz names too
    monkeypatch.setenv("NLPPLAT_DATA_DIR", str(tmp_path / "mirror"))
    with pytest.raises(MissingDataError, match=r"missing dev\.en\.gz, dev\.de\.gz"):
        resolve_files(spec(tmp_path, urls={}), download=False)
    (mirror / "dev.de").write_bytes(DE)
    assert resolve_files(spec(tmp_path, urls={}), download=False) == {"dev": mirror / "dev.en"}


def test_a_wrong_digest_or_a_broken_gzip_keeps_nothing(tmp_path) -> None:
    folder = upstream(tmp_path)
    with pytest.raises(NlpplatError, match="expected 0000"):
        download_file((folder / "val.en.gz").as_uri(), tmp_path / "out" / "dev.en.gz", "0000")
    (folder / "plain.en").write_bytes(EN)
    with pytest.raises(NlpplatError, match="not a readable gzip file"):
        download_file((folder / "plain.en").as_uri(), tmp_path / "out" / "dev.en.gz", None)
    assert not list((tmp_path / "out").iterdir())


def test_content_checksum_covers_every_file_of_a_split(tmp_path) -> None:
    (tmp_path / "a.en").write_bytes(EN)
    (tmp_path / "a.de").write_bytes(DE)
    one = content_checksum({"dev": tmp_path / "a.en"})
    both = content_checksum({"dev": [tmp_path / "a.en", tmp_path / "a.de"]})
    assert one != both and content_checksum({"dev": [tmp_path / "a.en"]}) == one
