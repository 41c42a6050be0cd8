"""Description of one REST operation of Qdrant's API (the table is ``sdk._operations_spec.OPERATIONS``)."""

from dataclasses import dataclass
from typing import Optional, Tuple

__all__ = ["Operation"]


@dataclass(frozen=True)
class Operation:
    """One path + method of the OpenAPI spec, as plain data.

    * ``path`` is the template, e.g. ``"/collections/{collection_name}/points"``; ``path_params`` are the
      names in it, in order of appearance; ``query_params`` the names of the query parameters.
    * ``body_model``: name of the request body schema in ``sdk.models`` (``"multipart"`` for the
      snapshot uploads, ``None`` when there is no body).
    * ``result_type``: the type of ``result`` in the ``{"result", "status", "time", "usage"}`` envelope
      of the 200 response, as a Python type expression over ``sdk.models`` names (``"UpdateResult"``,
      ``"List[Record]"``, ``"bool"``); ``None`` when the response is not that envelope.
    * ``response_type``: for responses that are not the envelope, the type of the whole body
      (``"VersionInfo"``, ``"Dict[str, Any]"``, ``"str"`` for text/plain, ``"bytes"`` for downloads).
    * ``legacy``: the operation was removed from the v1.19 spec but is still served (search,
      recommend and discover endpoints; taken from the v1.18 spec).
    """

    operation_id: str
    method: str
    path: str
    path_params: Tuple[str, ...] = ()
    query_params: Tuple[str, ...] = ()
    body_model: Optional[str] = None
    result_type: Optional[str] = None
    response_type: Optional[str] = None
    legacy: bool = False
