"""Numpy arrays given for vector fields are turned into lists before pydantic validates them.

pydantic validates a numpy array given for a ``List[StrictFloat]`` member element by element (and
rejects ``numpy.float32`` items); ``ndarray.tolist()`` does the conversion in C. The generated models
annotate every vector-holding field with ``NumpyToLists``.

numpy is not imported here: an array can only exist once numpy has been imported, so the check
looks numpy up in ``sys.modules`` and importing ``sdk.models`` stays cheap.
"""

import sys
from typing import Any

from pydantic import BeforeValidator

__all__ = ["NumpyToLists", "numpy_to_lists"]


def _convert(value: Any, ndarray: type) -> Any:
    """An array as a list; a list/tuple of arrays (rows of a multivector, a batch) as a list of lists."""
    if isinstance(value, ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)) and value:
        # A plain dense vector (the hot path, possibly long) is recognised by its first item;
        # other lists (rows, a batch, point ids mixed with vectors) are scanned.
        if type(value[0]) is float:
            return value
        if any(isinstance(item, ndarray) for item in value):
            return [item.tolist() if isinstance(item, ndarray) else item for item in value]
    return value


def numpy_to_lists(value: Any) -> Any:
    """Numpy arrays in a vector value, a list of vectors or a dict of named vectors, as lists."""
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return value
    ndarray = numpy.ndarray
    if isinstance(value, dict):
        if any(isinstance(v, (ndarray, list, tuple)) for v in value.values()):
            return {key: _convert(item, ndarray) for key, item in value.items()}
        return value
    return _convert(value, ndarray)


NumpyToLists: Any = BeforeValidator(numpy_to_lists)
