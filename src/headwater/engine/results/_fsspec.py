"""Results kept anywhere fsspec can reach: ``memory://``, ``file://``, ``s3://``, ``gcs://``...

Contract:
    :class:`FSSpecResult` stores the serialized value at a URL. ``location`` is a URL
    (or URL template); a relative location is joined to ``dir``, a URL prefix. After a
    write the result's ``location`` is the full URL. ``storage_options`` go to fsspec
    (credentials etc.) and are *not* included in references, so secrets never reach the
    server; a reader configures its own. fsspec is imported on first use.
    :class:`S3Result` and :class:`GCSResult` are bucket-based spellings of the same.
"""

from __future__ import annotations

import uuid
from typing import Any

from headwater.engine._result_base import Result, _serializer_of, format_location
from headwater.engine.serializers import Serializer

__all__ = ["FSSpecResult", "GCSResult", "S3Result"]


class FSSpecResult(Result):
    """A result stored at an fsspec URL.

    Args:
        location: the URL or URL template, for example ``"memory://bucket/{task_slug}.pkl"``;
            relative locations are joined to ``dir``. Defaults to a uuid-based name in ``dir``.
        dir: a URL prefix for relative locations, for example ``"s3://bucket/results"``.
        storage_options: keyword arguments for the fsspec filesystem.
        value: the value, if known.
        serializer: defaults to the pickle serializer.

    Raises:
        ValueError: when neither ``location`` nor ``dir`` is given.
    """

    def __init__(
        self,
        location: str | None = None,
        dir: str | None = None,
        storage_options: dict[str, Any] | None = None,
        value: Any = None,
        serializer: Serializer | None = None,
    ) -> None:
        if location is None and dir is None:
            raise ValueError("FSSpecResult needs a location URL or a dir URL prefix")
        super().__init__(value=value, location=location, serializer=serializer)
        self.dir = dir.rstrip("/") if dir else None
        self.storage_options: dict[str, Any] = dict(storage_options or {})

    @property
    def default_location(self) -> str:
        """A fresh object name used when no location is configured."""
        return f"{uuid.uuid4()}.headwater_result"

    def _url(self, location: str) -> str:
        if "://" in location or self.dir is None:
            return location
        return f"{self.dir}/{location.lstrip('/')}"

    def _fs(self, url: str) -> tuple[Any, str]:
        # deferred: fsspec costs ~50 ms, paid only by runs that use an fsspec URL.
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(url, **self.storage_options)
        return fs, str(path)

    def write(self, value_: Any, **kwargs: Any) -> FSSpecResult:
        """Serialize ``value_`` to the (formatted) location URL.

        Args:
            value_: the value to store.
            **kwargs: values for the location template.
        """
        new = self.format(**kwargs)
        url = new._url(new.location if new.location is not None else new.default_location)
        data = new.serializer.serialize(value_)
        fs, path = new._fs(url)
        parent = fs._parent(path)
        if parent:
            try:
                fs.makedirs(parent, exist_ok=True)
            except (OSError, NotImplementedError):
                pass  # object stores have no directories to create
        fs.pipe_file(path, data)
        new.location = url
        new.value = value_
        return new

    def read(self, location: str) -> FSSpecResult:
        """Return a Result holding the value stored at ``location``.

        Raises:
            FileNotFoundError: when nothing is stored there.
        """
        url = self._url(location)
        fs, path = self._fs(url)
        try:
            data = fs.cat_file(path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, KeyError):
            raise FileNotFoundError(f"no result stored at {url!r}") from None
        new = self.copy()
        new.location = url
        new.value = new.serializer.deserialize(bytes(data))
        return new

    def exists(self, location: str, **kwargs: Any) -> bool:
        """Whether something is stored at ``location`` (a template filled from ``kwargs``)."""
        url = self._url(format_location(location, **kwargs))
        fs, path = self._fs(url)
        return bool(fs.isfile(path))

    def to_ref(self) -> dict[str, Any]:
        """Return the reference (``storage_options`` are left out on purpose)."""
        ref = super().to_ref()
        if self.dir is not None:
            ref["dir"] = self.dir
        return ref

    @classmethod
    def _from_ref(cls, ref: dict[str, Any]) -> Result:
        location, prefix = ref.get("location"), ref.get("dir")
        if not location and not prefix:
            raise ValueError(f"invalid {ref.get('type')} reference (no location or dir): {ref!r}")
        return FSSpecResult(location=location, dir=prefix, serializer=_serializer_of(ref))


class S3Result(FSSpecResult):
    """A result stored in an S3 bucket (needs ``s3fs``).

    Args:
        bucket: the bucket name.
        location: the key (or key template) inside the bucket.
        **kwargs: further :class:`FSSpecResult` arguments.
    """

    def __init__(self, bucket: str, location: str | None = None, **kwargs: Any) -> None:
        kwargs.pop("dir", None)
        super().__init__(location=location, dir=f"s3://{bucket}", **kwargs)
        self.bucket = bucket

    @classmethod
    def _from_ref(cls, ref: dict[str, Any]) -> Result:
        return FSSpecResult._from_ref(ref)


class GCSResult(FSSpecResult):
    """A result stored in a Google Cloud Storage bucket (needs ``gcsfs``).

    Args:
        bucket: the bucket name.
        location: the object name (or template) inside the bucket.
        **kwargs: further :class:`FSSpecResult` arguments.
    """

    def __init__(self, bucket: str, location: str | None = None, **kwargs: Any) -> None:
        kwargs.pop("dir", None)
        super().__init__(location=location, dir=f"gcs://{bucket}", **kwargs)
        self.bucket = bucket

    @classmethod
    def _from_ref(cls, ref: dict[str, Any]) -> Result:
        return FSSpecResult._from_ref(ref)
