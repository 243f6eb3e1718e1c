"""The data layer's errors, in the core layer: :mod:`.paths` raises :class:`DataConfigError` and the
data layer (:mod:`idl_helpers.data`) raises the rest; both import them from here, so neither imports the other
just for an exception class. :mod:`idl_helpers.data` re-exports them.
"""

from __future__ import annotations


class DataError(RuntimeError):
    """Base class of the data layer's errors."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A file is in none of the places looked at and cannot be downloaded."""


class ChecksumError(DataError):
    """A file's checksum does not match the registry's."""


class DataCorruptError(DataError):
    """A file has the right name but cannot be read completely (e.g. a truncated archive)."""


class DataUnreadableError(DataError):
    """A file exists but cannot be read (permissions, I/O error)."""


class DataConfigError(DataError, NotADirectoryError):
    """``$IDL_DATA_DIR`` or ``$IDL_CACHE_DIR`` names something unusable (raised by :mod:`..paths`)."""
