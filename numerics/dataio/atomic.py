"""Atomic file writes: text, JSON and NumPy files, all written the same way.

Every file the project writes for a user (verification reports, ``bnconvex
solve --out`` arrays, ``bnconvex train`` summaries and models, figure data,
benchmark results, the image cache) goes through :func:`atomic_write`:

1. the parent folder is created if needed;
2. the data go to a temporary file in that folder, which is flushed and
   fsynced;
3. the temporary file gets the mode a plain ``open(path, "w")`` would give,
   ``0o666 & ~umask`` (:func:`tempfile.mkstemp` creates it ``0600``);
4. it is renamed over ``path`` (:func:`os.replace`, atomic on POSIX).

A reader therefore never sees a half-written file, an interrupted or failed
write leaves any old file intact and no temporary file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_save",
    "atomic_savez",
    "atomic_write",
    "atomic_write_json",
    "atomic_write_text",
]


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]
) -> Path:
    """Call ``write(handle)`` on a binary temporary file, then rename it to ``path``.

    Parameters
    ----------
    path : str or path-like
        The file to (re)place; missing parent folders are created.
    write : callable
        Writes the content to the open binary handle it is given.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import os, tempfile
    >>> from bnconvex.numerics.dataio.atomic import atomic_write
    >>> folder = tempfile.mkdtemp()
    >>> atomic_write(os.path.join(folder, "a.bin"), lambda h: h.write(b"x")).name
    'a.bin'
    >>> os.listdir(folder)
    ['a.bin']
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str; got {type(text).__name__}")
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def atomic_write_json(
    path: str | os.PathLike[str], obj: Any, **dumps_options: Any
) -> Path:
    """Write ``json.dumps(obj, **dumps_options)`` and a newline to ``path`` atomically.

    The object is serialised before the file is touched, so an object that is
    not JSON (or a non-finite float with ``allow_nan=False``) raises and
    leaves ``path`` as it was.
    """
    return atomic_write_text(path, json.dumps(obj, **dumps_options) + "\n")


def atomic_save(path: str | os.PathLike[str], array: Any) -> Path:
    """Write one array to the ``.npy`` file ``path`` atomically (``numpy.save``)."""
    import numpy as np

    return atomic_write(path, lambda handle: np.save(handle, array))


def atomic_savez(path: str | os.PathLike[str], **arrays: Any) -> Path:
    """Write ``arrays`` to the uncompressed ``.npz`` file ``path`` atomically."""
    import numpy as np

    return atomic_write(path, lambda handle: np.savez(handle, **arrays))
