"""Results kept as files in a local directory.

Contract:
    :class:`LocalResult` writes the serialized value to ``dir/location`` (``location``
    may be a template, or an absolute path which ignores ``dir``); after a write the
    result's ``location`` is the absolute file path. Files are written to a temporary
    name and renamed into place, so a reader never sees half a value.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any

from headwater.engine._result_base import Result, _serializer_of, format_location
from headwater.engine.serializers import Serializer
from headwater.utilities.configuration import config

__all__ = ["LocalResult"]


def _default_dir() -> str:
    return str(config.results.dir)


class LocalResult(Result):
    """A result stored as a file on the local filesystem.

    Args:
        dir: the directory for relative locations; defaults to ``config.results.dir``
            (``$HEADWATER_HOME/results``).
        validate_dir: create ``dir`` when missing and check that it is a directory.
        location: the file name (relative to ``dir``) or absolute path; may be a
            template. Defaults to a fresh uuid-based name on every write.
        value: the value, if known.
        serializer: defaults to the pickle serializer.

    Raises:
        ValueError: when ``validate_dir`` is true and ``dir`` exists but is not a directory.
    """

    def __init__(
        self,
        dir: str | os.PathLike[str] | None = None,
        validate_dir: bool = True,
        location: str | None = None,
        value: Any = None,
        serializer: Serializer | None = None,
    ) -> None:
        super().__init__(value=value, location=location, serializer=serializer)
        raw = os.fspath(dir) if dir is not None else _default_dir()
        self.dir = os.path.abspath(os.path.expanduser(raw))
        if validate_dir:
            if os.path.exists(self.dir) and not os.path.isdir(self.dir):
                raise ValueError(f"LocalResult dir {self.dir!r} exists and is not a directory")
            os.makedirs(self.dir, exist_ok=True)

    @property
    def default_location(self) -> str:
        """A fresh file name used when no location is configured."""
        return f"{uuid.uuid4()}.headwater_result"

    def _path(self, location: str) -> str:
        return os.path.join(self.dir, os.path.expanduser(location))

    def write(self, value_: Any, **kwargs: Any) -> LocalResult:
        """Serialize ``value_`` into a file and return a Result holding value and path.

        Args:
            value_: the value to store.
            **kwargs: values for the location template.
        """
        new = self.format(**kwargs)
        if new.location is None:
            new.location = new.default_location
        path = new._path(new.location)
        data = new.serializer.serialize(value_)
        parent = os.path.dirname(path)
        os.makedirs(parent, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        new.location = path
        new.value = value_
        return new

    def read(self, location: str) -> LocalResult:
        """Return a Result holding the value stored in the file at ``location``.

        Raises:
            FileNotFoundError: when there is no such file.
        """
        path = self._path(location)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise FileNotFoundError(f"no LocalResult stored at {location!r} ({path})") from None
        new = self.copy()
        new.location = location
        new.value = new.serializer.deserialize(data)
        return new

    def exists(self, location: str, **kwargs: Any) -> bool:
        """Whether a file exists at ``location`` (a template filled from ``kwargs``)."""
        return os.path.isfile(self._path(format_location(location, **kwargs)))

    def to_ref(self) -> dict[str, Any]:
        """Return the reference, including ``dir``."""
        ref = super().to_ref()
        ref["dir"] = self.dir
        return ref

    @classmethod
    def _from_ref(cls, ref: dict[str, Any]) -> Result:
        return cls(
            dir=ref.get("dir"),
            validate_dir=False,
            location=ref.get("location"),
            serializer=_serializer_of(ref),
        )
