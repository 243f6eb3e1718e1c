"""Where things live: the repository, the local data directory, caches, results."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from idl_helpers.core.errors import DataConfigError

#: The repository root (the folder holding ``_config.yml``).
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Environment variable naming a local directory with the raw data files
#: (read first, never written to).
DATA_DIR_ENV = "IDL_DATA_DIR"
#: Environment variable naming a writable cache directory (downloads, processed data).
CACHE_DIR_ENV = "IDL_CACHE_DIR"
#: Environment variable that forbids downloads (set it on offline machines and in tests).
OFFLINE_ENV = "IDL_OFFLINE"
#: Environment variable overriding where notebooks write their results.
RESULTS_DIR_ENV = "IDL_RESULTS_DIR"


def _setting_error(message: str) -> Exception:
    return DataConfigError(message)


def data_dir() -> Path | None:
    """The local data directory named by ``$IDL_DATA_DIR``, or ``None``.

    When the variable is unset and a ``shared/data`` folder sits beside the
    repository (the layout of the offline machines this book is built on), that
    folder is used. A variable naming a file raises ``DataConfigError`` (a ``DataError``);
    one naming nothing is returned as is (every look-up then reports the file as not found
    and says that the directory does not exist).
    """
    value = os.environ.get(DATA_DIR_ENV)
    if value:
        path = Path(value).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise _setting_error(f"{DATA_DIR_ENV}={value} is not a directory; set it to the folder "
                                 f"that holds the data files, or unset it")
        return path
    sibling = REPO_ROOT.parent / "shared" / "data"
    return sibling if sibling.is_dir() else None


def cache_dir() -> Path:
    """A writable cache directory (``$IDL_CACHE_DIR``, else ``~/.cache/idl-book``), created if needed.

    One that is a file or cannot be created raises ``DataConfigError`` (a ``DataError``).
    """
    value = os.environ.get(CACHE_DIR_ENV)
    path = Path(value).expanduser() if value else Path.home() / ".cache" / "idl-book"
    name = f"{CACHE_DIR_ENV}={value}" if value else f"the cache directory {path}"
    if path.exists() and not path.is_dir():
        raise _setting_error(f"{name} is not a directory; set {CACHE_DIR_ENV} to a writable directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _setting_error(f"{name} cannot be created ({exc.strerror or exc}); "
                             f"set {CACHE_DIR_ENV} to a writable directory") from exc
    return path


def offline() -> bool:
    """True when downloads are forbidden (``$IDL_OFFLINE`` set to anything but 0/false)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


#: Set by the runner for the kernels it starts: the book and source folders of this run (a test
#: or a CI replay may run into a folder other than the repository's ``book/``).
BOOK_DIR_ENV = "IDL_BOOK_DIR"
NOTEBOOKS_DIR_ENV = "IDL_NOTEBOOKS_DIR"


def book_dir() -> Path:
    return REPO_ROOT / "book"


def notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks"


def results_dir(profile: str | None = None) -> Path:
    """Results root (``book/results`` unless ``$IDL_RESULTS_DIR``), or one profile's folder."""
    value = os.environ.get(RESULTS_DIR_ENV)
    root = Path(value).expanduser() if value else book_dir() / "results"
    return root / profile if profile else root


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path of its own beside ``final``, moved onto ``final`` when the block succeeds.

    Notebooks executed in parallel build the same caches at the same time; each writer gets a
    unique temporary file (never a shared ``.tmp`` name), so readers see either no file or a
    complete one, and a failed write leaves nothing behind. The temporary name keeps
    ``final``'s suffix, so ``np.save``/``np.savez`` do not append another.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.stem}.", suffix=final.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
