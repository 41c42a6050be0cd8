"""Qdrant's REST data model as pydantic v2 classes, generated from the OpenAPI spec.

    from sdk import models

    models.PointStruct(id=1, vector=[0.1, 0.2], payload={"city": "London"})
    models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="London"))])

The classes live in ``_generated`` (written by ``tools/gen_models.py``, do not edit it by hand).
This module adds the few hand-written names qdrant-client also offers that are not in the spec.
"""

from typing import Dict, List, Union

from pydantic import StrictFloat, StrictStr

from . import _generated
from ._generated import *  # noqa: F401,F403
from ._generated import ExtendedPointId, SparseVector

# Vector types without the inference objects (Document, Image, InferenceObject), as in qdrant-client.
NumericVector = Union[List[StrictFloat], SparseVector, List[List[StrictFloat]]]
NumericVectorInput = Union[List[StrictFloat], SparseVector, List[List[StrictFloat]], ExtendedPointId]
NumericVectorStruct = Union[List[StrictFloat], List[List[StrictFloat]], Dict[StrictStr, NumericVector]]

__all__ = ["NumericVector", "NumericVectorInput", "NumericVectorStruct"]
__all__ += _generated.__all__
