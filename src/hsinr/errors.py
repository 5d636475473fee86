"""The exceptions hsinr raises for problems a user can fix.

Everything a user can cause (a missing file, a corrupt input, a bad option) raises a
subclass of :class:`HsinrError`; the command line prints its message on one line and
exits non-zero. Any other exception is a bug in hsinr.
"""


class HsinrError(Exception):
    """Base class of every error that is the input's fault, not hsinr's."""


class InputError(HsinrError):
    """An input file or array that cannot be used as a hyperspectral cube."""


class UnsupportedFormatError(InputError):
    """A file whose suffix names no format hsinr reads or writes."""


class DatasetError(HsinrError):
    """A named benchmark scene that cannot be found or fails its checks."""
