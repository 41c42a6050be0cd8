"""Quantization of dense vectors (scalar int8, product, binary): codes trained once a vector
name is indexed, kept current on every write, persisted, and used by the planner to rank
candidates before (optionally) rescoring with the originals. See docs/quantization.md."""

from .codecs import BinaryCodec, Codec, ProductCodec, ScalarCodec, make_codec
from .config import QuantSearch, QuantSpec, parse, resolve, search_options
from .store import QuantizedVectors, VectorQuantization, blob_key

__all__ = [
    "BinaryCodec", "Codec", "ProductCodec", "QuantSearch", "QuantSpec", "QuantizedVectors", "ScalarCodec",
    "VectorQuantization", "blob_key", "make_codec", "parse", "resolve", "search_options",
]
