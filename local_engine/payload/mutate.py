"""Pure functions that compute a new payload from an old one, with Qdrant's write semantics.

None of them modifies its input: the store swaps whole payload dicts, so references handed out
earlier (``PayloadStore.get``, the element docs of nested-filter domains) never change under
anyone's feet.

* ``merge``          set_payload without a key: top-level keys replaced; a ``null`` value removes
                     the key (``merge_map``), it does not store a null.
* ``set_at_path``    set_payload with ``key``: merge into the object(s) the path names, creating
                     or replacing what is in the way (see the function).
* ``delete_at_path`` delete_payload: remove a key, or empty an array with a trailing ``[]``; a
                     trailing ``[n]`` is a no-op (the server does not delete array elements by
                     index, it is not idempotent).
* ``include`` / ``exclude``  the payload selectors of ``with_payload``.
"""

from __future__ import annotations

from typing import Any

from .json_path import ALL, Path


def clone(value: Any) -> Any:
    """A deep copy of a JSON-like value (tuples become lists, as they would over the wire)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clone(v) for v in value]
    return value


def merge(dest: dict, src: dict) -> dict:
    """Merge ``src`` into ``dest`` in place (and return it): null removes, anything else replaces."""
    for key, value in src.items():
        if value is None:
            dest.pop(key, None)
        else:
            dest[key] = clone(value)
    return dest


def set_at_path(payload: dict, path: Path, value: dict) -> None:
    """Merge ``value`` into what ``path`` names inside ``payload`` (modified in place).

    The walk, step by step (this is Qdrant's ``set_value_to_json_path`` behaviour):

    * key step on an object: create ``{}`` under the key if absent and go on; at the last step
      merge into it (or replace a non-object with the merge result);
    * key step on a non-object: that value is replaced by ``{key: ...}``;
    * ``[n]`` on an array: go into element n if it exists (nothing happens otherwise);
      ``[]`` on an array: go into every element;
    * ``[n]`` / ``[]`` on a non-array: that value is replaced by ``[]`` and the walk stops.
    """
    _set(None, None, payload, path, value)


def _set(parent: Any, slot: Any, node: Any, path: Path, value: dict) -> None:
    item, rest = path[0], path[1:]
    if type(item) is str:
        if not isinstance(node, dict):
            # replace the obstacle by an object holding just this key
            node = parent[slot] = {}
        if item not in node:
            node[item] = {}
        if rest:
            _set(node, item, node[item], rest, value)
        elif isinstance(node[item], dict):
            merge(node[item], value)
        else:
            node[item] = merge({}, value)
        return
    if not isinstance(node, list):
        parent[slot] = []
        return
    indices = range(len(node)) if item is ALL else ([item] if item < len(node) else [])
    for i in indices:
        if rest:
            _set(node, i, node[i], rest, value)
        elif isinstance(node[i], dict):
            merge(node[i], value)
        else:
            node[i] = merge({}, value)


def delete_at_path(payload: dict, path: Path) -> None:
    """Delete what ``path`` names inside ``payload`` (modified in place); missing paths are no-ops."""
    parents = [payload]
    for item in path[:-1]:
        parents = _step(parents, item)
        if not parents:
            return
    last = path[-1]
    for node in parents:
        if type(last) is str and isinstance(node, dict):
            node.pop(last, None)
        elif last is ALL and isinstance(node, list):
            node.clear()


def _step(nodes: list, item: Any) -> list:
    out: list = []
    for node in nodes:
        if type(item) is str:
            if isinstance(node, dict) and item in node:
                out.append(node[item])
        elif isinstance(node, list):
            if item is ALL:
                out.extend(node)
            elif item < len(node):
                out.append(node[item])
    return out


# ---- payload selectors -------------------------------------------------------------------------
#
# Selector keys are merged into a prefix tree: {"a": {"b": True}, "c": {ALL: True}} for
# ["a.b", "c[]"], where True means "everything below". Only `[]` applies to array elements;
# an index item (`a[0]`) selects nothing inside an array (as in Qdrant's core).

_EVERYTHING = True


def selector_tree(paths: list[Path]) -> dict:
    tree: dict = {}
    for path in paths:
        node = tree
        for item in path[:-1]:
            child = node.setdefault(item, {})
            if child is _EVERYTHING:  # a shorter key already selects all of it
                break
            node = child
        else:
            node[path[-1]] = _EVERYTHING
    return tree


def include(value: Any, tree: dict) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            sub = tree.get(key)
            if sub is None:
                continue
            out[key] = item if sub is _EVERYTHING else include(item, sub)
        return out
    if isinstance(value, list):
        if ALL not in tree:
            return []
        sub = tree[ALL]
        return value if sub is _EVERYTHING else [include(item, sub) for item in value]
    return value


def exclude(value: Any, tree: dict) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            sub = tree.get(key)
            if sub is None:
                out[key] = item
            elif sub is not _EVERYTHING:
                out[key] = exclude(item, sub)
        return out
    if isinstance(value, list):
        if ALL not in tree:
            return value
        sub = tree[ALL]
        return [] if sub is _EVERYTHING else [exclude(item, sub) for item in value]
    return value
