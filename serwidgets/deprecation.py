"""Old names kept for one release: one way to say so.

A renamed attribute stays readable through :class:`renamed_attribute`, which warns with a
:class:`DeprecationWarning` naming the new attribute. (Renamed keywords: see
:func:`serwidgets.audio.renamed_sr_keyword`; renamed module attributes: the module's ``__getattr__``.)

Examples
--------
>>> import warnings
>>> class Model:
...     old = renamed_attribute("new_")
...     new_ = 3
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     Model().old, str(caught[0].message)
(3, 'Model.old is deprecated; use .new_')
"""

from __future__ import annotations

import warnings

__all__ = ["renamed_attribute"]


class renamed_attribute:  # noqa: N801 (used like ``property``)
    """A read-only alias of attribute ``new`` that warns on every read.

    Parameters
    ----------
    new : str
        The attribute's name now.
    default : object or callable, optional
        Returned while ``new`` is not set (e.g. before ``fit``); a callable is called with the
        instance.
    """

    def __init__(self, new: str, default=None):
        self.new, self.default = new, default

    def __set_name__(self, owner, name):
        self.message = f"{owner.__name__}.{name} is deprecated; use .{self.new}"
        self.__doc__ = f"Deprecated: :attr:`{self.new}`."

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        warnings.warn(self.message, DeprecationWarning, stacklevel=2)
        if hasattr(instance, self.new):
            return getattr(instance, self.new)
        return self.default(instance) if callable(self.default) else self.default
