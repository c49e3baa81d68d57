"""validate_model_archive: what SageMaker would extract, and every way an archive can be wrong."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from mlblueprints.constructs.errors import ModelDataError
from mlblueprints.constructs.sagemaker.model_data import pack_directory, validate_model_archive


def _archive(tmp_path: Path, members: list[tarfile.TarInfo], name: str = "model.tar.gz") -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    path = tmp_path / name
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info


def test_a_packed_directory_is_valid_and_reproducible(tmp_path):
    (tmp_path / "model" / "code").mkdir(parents=True)
    (tmp_path / "model" / "weights.bin").write_bytes(b"w")
    (tmp_path / "model" / "code" / "inference.py").write_text("def model_fn(d): ...\n")
    first = pack_directory(tmp_path / "model")
    assert first.read_bytes() == pack_directory(tmp_path / "model").read_bytes()
    names = validate_model_archive(first, expected_files=("code/inference.py", "weights.bin"))
    assert "code/inference.py" in names


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([_file("/etc/passwd")], r"absolute path"),
        ([_file("../outside.bin")], r"climbs out of the model directory"),
        ([_file("weights.bin")], r"'code/inference.py' is missing"),
    ],
)
def test_bad_members_are_refused(tmp_path, members, message):
    with pytest.raises(ModelDataError, match=message):
        validate_model_archive(_archive(tmp_path, members), expected_files=("code/inference.py",))


def test_links_out_of_the_model_directory_are_refused(tmp_path):
    link = tarfile.TarInfo("weights.bin")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../etc/shadow"
    with pytest.raises(ModelDataError, match=r"link 'weights.bin' points outside"):
        validate_model_archive(_archive(tmp_path, [link]))


def test_every_problem_at_once(tmp_path):
    with pytest.raises(ModelDataError) as caught:
        validate_model_archive(_archive(tmp_path, [_file("/a"), _file("../b")]), expected_files=("c",))
    assert len(caught.value.problems) == 3


def test_not_gzip_and_not_tar(tmp_path):
    plain = tmp_path / "model.tar"
    plain.write_bytes(b"not gzip")
    with pytest.raises(ModelDataError, match=r"is not gzip-compressed"):
        validate_model_archive(plain)
    fake = tmp_path / "fake.tar.gz"
    fake.write_bytes(gzip.compress(b"not a tar archive, just text" * 20))
    with pytest.raises(ModelDataError, match=r"is gzip but not a tar archive"):
        validate_model_archive(fake)
    with pytest.raises(ModelDataError, match=r"cannot be read"):
        validate_model_archive(tmp_path / "missing.tar.gz")
