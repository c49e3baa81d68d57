"""Where a SageMaker model's artifacts live, and how its role gets to read them.

Either one ``model.tar.gz`` archive, or an S3 prefix (a "folder" whose URL ends in ``/``): the
uncompressed files of a large model, which SageMaker downloads without unpacking an archive
(``S3DataSource`` with ``CompressionType: None``), or the archives of a multi-model endpoint.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets

from constructs import Construct
from mlblueprints.constructs.compliance.acknowledge import acknowledge_wildcard_resource
from mlblueprints.constructs.errors import ModelDataError, Problem

__all__ = ["ModelData", "ModelDataError", "key_region_problems", "pack_directory", "validate_model_archive"]

# Anchored at both ends: "model.tar.gz.bak" is not a model archive.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_S3_URL = re.compile(r"^s3://(?P<bucket>" + _BUCKET.pattern + r")/(?P<key>\S+\.tar\.gz)$")
# A key name prefix "always ends with a forward slash" (botocore, S3ModelDataSource.S3DataType).
_S3_PREFIX = re.compile(r"^s3://(?P<bucket>" + _BUCKET.pattern + r")/(?P<key>(?:\S+/)?)$")


@dataclass(frozen=True)
class ModelData:
    """A ``model.tar.gz`` in S3 (a URL, a bucket object, or a file staged as a CDK asset), or an S3 prefix."""

    s3_url: str
    is_prefix: bool = False
    _bucket: str | None = None
    _key: str | None = None
    _encryption_key: kms.IKey | None = None
    _asset: s3_assets.Asset | None = None
    _bucket_construct: s3.IBucket | None = None

    @classmethod
    def from_s3_url(cls, s3_url: str, *, encryption_key: kms.IKey | None = None) -> ModelData:
        """``s3://<bucket>/<prefix>/model.tar.gz``; pass the bucket's KMS key if it is SSE-KMS encrypted."""
        if Token.is_unresolved(s3_url):
            raise ModelDataError(
                "ModelData.from_s3_url needs a literal 's3://<bucket>/<key>.tar.gz' URL to scope the model "
                "role's read access; for a bucket defined in CDK use ModelData.from_bucket(bucket, key)."
            )
        match = _S3_URL.match(s3_url)
        if not match:
            raise ModelDataError(
                Problem(
                    f"Model artifact {s3_url!r} is not an S3 URL of a .tar.gz archive: {_url_fault(s3_url)}. "
                    "SageMaker loads model data from 's3://<bucket>/<key>.tar.gz' (for example "
                    "'s3://my-models/llama/model.tar.gz'): upload the archive to S3 and use its URL, or "
                    "give a folder URL ending in '/' for uncompressed model files.",
                    setting="model_data_url",
                    value=s3_url,
                )
            )
        return cls(s3_url=s3_url, _bucket=match["bucket"], _key=match["key"], _encryption_key=encryption_key)

    @classmethod
    def from_s3_prefix(cls, s3_url: str, *, encryption_key: kms.IKey | None = None) -> ModelData:
        """``s3://<bucket>/<prefix>/``: every object under the prefix (uncompressed model files, or
        the archives of a multi-model endpoint). The role may list the prefix and read its objects.
        """
        match = _S3_PREFIX.match(s3_url) if not Token.is_unresolved(s3_url) else None
        if not match:
            raise ModelDataError(
                Problem(
                    f"Model data prefix {s3_url!r} is not an S3 folder URL: use 's3://<bucket>/<prefix>/', "
                    "ending in '/' (SageMaker reads every object under the prefix).",
                    setting="model_data_url",
                    value=s3_url,
                )
            )
        return cls(
            s3_url=s3_url,
            is_prefix=True,
            _bucket=match["bucket"],
            _key=match["key"],
            _encryption_key=encryption_key,
        )

    @classmethod
    def from_url(cls, s3_url: str, *, encryption_key: kms.IKey | None = None) -> ModelData:
        """:meth:`from_s3_prefix` for a URL ending in ``/``, :meth:`from_s3_url` for an archive."""
        if isinstance(s3_url, str) and s3_url.endswith("/"):
            return cls.from_s3_prefix(s3_url, encryption_key=encryption_key)
        return cls.from_s3_url(s3_url, encryption_key=encryption_key)

    @classmethod
    def from_bucket(cls, bucket: s3.IBucket, key: str) -> ModelData:
        """An object in a bucket defined or imported in CDK; its KMS key, if any, is granted too."""
        if not Token.is_unresolved(key) and not key.endswith(".tar.gz"):
            raise ModelDataError(
                f"Model artifact key {key!r} is not a .tar.gz archive: SageMaker expects model data packed "
                "as model.tar.gz. Use the key of the archive, for example 'models/my-model/model.tar.gz'."
            )
        return cls(s3_url=bucket.s3_url_for_object(key), _bucket_construct=bucket, _key=key)

    @classmethod
    def from_directory(cls, scope: Construct, id: str, directory: str | Path) -> ModelData:
        """Pack ``directory`` into a ``model.tar.gz`` at synth and stage it as an asset.

        The archive is byte-for-byte reproducible (sorted entries, zeroed times and owners), so the
        asset hash, and with it the SageMaker model, only changes when a file does.
        """
        archive = pack_directory(Path(directory))
        return cls.from_asset(s3_assets.Asset(scope, id, path=str(archive)))

    @classmethod
    def from_asset(cls, asset: s3_assets.Asset) -> ModelData:
        """A ``.tar.gz`` file that ``cdk deploy`` uploads to the bootstrap assets bucket.

        CDK names the uploaded object ``<hash>.gz``; SageMaker reads the archive's content, not its
        suffix (aws-cdk's own ``@aws-cdk/aws-sagemaker-alpha`` deploys model assets the same way).
        """
        if not asset.is_file:
            raise ModelDataError(
                f"Model asset {asset.node.path!r} is a directory, which CDK uploads as a zip: SageMaker "
                "needs a gzip-compressed tar archive. Pass the path of a model.tar.gz file, or use "
                "ModelData.from_directory() to pack a directory."
            )
        return cls(s3_url=asset.s3_object_url, _asset=asset)

    def object_arn(self, scope: Construct) -> str:
        """The ARN of the archive object (``<prefix>*`` for a prefix), e.g. for a VPC endpoint policy."""
        if self._asset is not None:
            return self._asset.bucket.arn_for_objects(self._asset.s3_object_key)
        if self._bucket_construct is not None:
            return self._bucket_construct.arn_for_objects(self._key)
        return Stack.of(scope).format_arn(
            service="s3",
            region="",
            account="",
            resource=self._bucket,
            resource_name=f"{self._key}*" if self.is_prefix else self._key,
        )

    def bucket_arn(self, scope: Construct) -> str:
        return Stack.of(scope).format_arn(service="s3", region="", account="", resource=self._bucket or "")

    def grant_read(self, scope: Construct, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` read exactly this object (and decrypt it, if a key was given).

        Refuses a key from another region than ``scope``'s stack: see :func:`key_region_problems`.
        """
        region = Stack.of(scope).region
        if self._encryption_key is not None and not Token.is_unresolved(region):
            problems = key_region_problems(self._encryption_key.key_arn, region)
            if problems:
                raise ModelDataError(problems)
        if self._asset is not None:
            # Asset.grant_read would open the whole bootstrap bucket (s3:GetObject*, s3:List*);
            # the model needs exactly one object.
            iam.Grant.add_to_principal(
                grantee=grantee, actions=["s3:GetObject"], resource_arns=[self.object_arn(scope)]
            )
            return
        if self._bucket_construct is not None:
            self._bucket_construct.grant_read(grantee, self._key)
            return
        if self._bucket is not None:
            iam.Grant.add_to_principal(
                grantee=grantee, actions=["s3:GetObject"], resource_arns=[self.object_arn(scope)]
            )
        if self.is_prefix:
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["s3:ListBucket"],
                resource_arns=[self.bucket_arn(scope)],
                conditions={"StringLike": {"s3:prefix": [f"{self._key}*"]}},
            )
            if isinstance(grantee, iam.Role):
                acknowledge_wildcard_resource(
                    grantee,
                    self.object_arn(scope),
                    topic="objects under the model data prefix",
                    reason="SageMaker downloads every object under the model's S3 prefix (uncompressed "
                    "model files, or one archive per model of a multi-model endpoint); the role reads "
                    "only that prefix.",
                )
        if self._encryption_key is not None:
            self._encryption_key.grant_decrypt(grantee)


def key_region_problems(key_arn: str, region: str) -> list[Problem]:
    """An SSE-KMS bucket's key lives in the bucket's region, and SageMaker reads from its own region."""
    if Token.is_unresolved(key_arn) or Token.is_unresolved(region):
        return []
    parts = key_arn.split(":")
    if len(parts) < 4 or parts[3] == region:
        return []
    return [
        Problem(
            f"model_data_kms_key_arn is a key in {parts[3]}, but the stack deploys to {region}: SageMaker reads "
            f"model artifacts from buckets in its own region, whose keys are in that region too. Copy the "
            f"model to a bucket in {region} and use that bucket's key.",
            setting="model_data_kms_key_arn",
            value=key_arn,
        )
    ]


def _url_fault(url: str) -> str:
    """Which part of an S3 URL is wrong, for the error message."""
    if not url.startswith("s3://"):
        return "it does not start with s3://"
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not _BUCKET.fullmatch(bucket):
        return f"{bucket!r} is not a bucket name (3 to 63 lower-case letters, digits, dots and hyphens)"
    if not key or not key.endswith(".tar.gz"):
        return f"the key {key!r} does not end in .tar.gz"
    return "the key holds whitespace"


def pack_directory(directory: Path) -> Path:
    """``directory`` as a reproducible ``.tar.gz`` (sorted entries, zeroed times and owners), cached by content."""
    if not directory.is_dir():
        raise ModelDataError(f"Model directory {str(directory)!r} does not exist or is not a directory.")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in directory.rglob("*") if "__pycache__" not in p.parts):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(directory).as_posix())
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    payload = gzip.compress(buffer.getvalue(), mtime=0)
    digest = hashlib.sha256(payload).hexdigest()[:16]
    out_dir = Path(tempfile.gettempdir()) / "mlblueprints-model-archives" / digest
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / "model.tar.gz"
    if not archive.exists():
        archive.write_bytes(payload)
    return archive


def validate_model_archive(archive: str | Path, *, expected_files: tuple[str, ...] = ()) -> list[str]:
    """The members of a ``model.tar.gz`` SageMaker would extract to ``/opt/ml/model``.

    Raises :class:`ModelDataError` naming every problem at once: not gzip, not tar, members with
    absolute paths or ``..`` (they would land outside the model directory), links that point out of
    it, device files, or ``expected_files`` (e.g. ``code/inference.py``) missing.
    """
    path = Path(archive)
    problems: list[Problem] = []
    try:
        with path.open("rb") as handle:
            if handle.read(2) != b"\x1f\x8b":
                raise ModelDataError(
                    Problem(f"{path} is not gzip-compressed: SageMaker expects a .tar.gz archive (tar -czf).")
                )
    except OSError as error:
        raise ModelDataError(Problem(f"{path} cannot be read: {error.strerror or error}.")) from None
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            members = tar.getmembers()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ModelDataError(
            Problem(f"{path} is gzip but not a tar archive ({error}): pack it with tar -czf.")
        ) from None
    names = []
    for member in members:
        name = member.name
        parts = Path(name).parts
        if name.startswith("/") or (parts and parts[0].endswith(":")):
            problems.append(
                Problem(
                    f"{path}: member {name!r} has an absolute path; store it relative to the model directory."
                )
            )
        if ".." in parts:
            problems.append(Problem(f"{path}: member {name!r} climbs out of the model directory ('..')."))
        if member.issym() or member.islnk():
            target = Path(name).parent / member.linkname
            if member.linkname.startswith("/") or ".." in target.parts:
                problems.append(
                    Problem(
                        f"{path}: link {name!r} points outside the model directory ({member.linkname!r})."
                    )
                )
        if member.isdev() or member.isfifo():
            problems.append(Problem(f"{path}: member {name!r} is a device or pipe, not a file."))
        names.append(name.removeprefix("./"))
    for expected in expected_files:
        if expected not in names:
            problems.append(
                Problem(
                    f"{path}: {expected!r} is missing (the archive holds {', '.join(sorted(names)[:8]) or 'nothing'})."
                )
            )
    if problems:
        raise ModelDataError(problems)
    return names
