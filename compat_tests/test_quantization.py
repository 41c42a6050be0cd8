"""Quantization (scalar int8, product, binary) in every client mode.

Floors (docs/quantization.md), on 3,000 clustered 64-d vectors with ``indexing_threshold``
lowered so the codes are trained:

* recall@10 after rescoring >= 0.95 against ``exact=True`` for every type and binary encoding,
  at the oversampling stated per vector below, both on the graph path and on the code-scan path
  (a filter small enough to be scanned);
* ``rescore=False`` returns code scores (not the exact ones) whose ids still overlap the exact
  top 10 by >= 0.8 (scalar int8 at oversampling 1);
* ``ignore=True`` and ``exact=True`` never touch the codes (exact scores, same ids).
"""

from __future__ import annotations

import numpy as np
import pytest

from sdk import BadRequestError, models



def engine_of(client):
    """The in-process Engine behind a client, or None (remote modes)."""
    inner = getattr(client, "_client", client)
    transport = getattr(inner, "_transport", None)
    transport = getattr(transport, "_sync", transport)
    return getattr(transport, "_engine", None)

N, DIM, CENTRES, QUERIES = 3000, 64, 30, 8
EXACT = models.SearchParams(exact=True)
LOW_THRESHOLD = models.OptimizersConfigDiff(indexing_threshold=100)   # 100 KB = 400 vectors of 64 dims


def _data(seed: int = 11):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CENTRES, DIM)).astype(np.float32)
    data = (centres[rng.integers(0, CENTRES, N)] + 0.35 * rng.standard_normal((N, DIM))).astype(np.float32)
    q = (centres[rng.integers(0, CENTRES, QUERIES)] + 0.35 * rng.standard_normal((QUERIES, DIM))).astype(np.float32)
    return data, q


DATA, QVECS = _data()
SCALAR = models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99))


def _binary(encoding: str, query_encoding: str | None = None) -> models.BinaryQuantization:
    return models.BinaryQuantization(binary=models.BinaryQuantizationConfig(
        encoding=encoding, query_encoding=query_encoding))


def _product(compression: str) -> models.ProductQuantization:
    return models.ProductQuantization(product=models.ProductQuantizationConfig(compression=compression))


# vector name -> (per-vector quantization config or None for the collection's, distance, oversampling)
VECTORS = {
    "scalar": (None, models.Distance.COSINE, 2.0),             # the collection-level config
    "pq_x4": (_product("x4"), models.Distance.EUCLID, 4.0),
    "pq_x64": (_product("x64"), models.Distance.COSINE, 12.0),
    "bin_one": (_binary("one_bit"), models.Distance.COSINE, 12.0),
    "bin_onehalf": (_binary("one_and_half_bits", "scalar8bits"), models.Distance.DOT, 12.0),
    "bin_two": (_binary("two_bits", "scalar4bits"), models.Distance.EUCLID, 12.0),
}


def _create(client, name: str = "q", points: int = N) -> None:
    client.create_collection(name, vectors_config={
        v: models.VectorParams(size=DIM, distance=dist, quantization_config=cfg)
        for v, (cfg, dist, _) in VECTORS.items()
    }, quantization_config=SCALAR, optimizers_config=LOW_THRESHOLD)
    payload = [{"g": i % 10} for i in range(points)]
    client.upload_collection(name, vectors={v: DATA[:points] for v in VECTORS}, payload=payload,
                             ids=list(range(points)), batch_size=300)   # small requests: a loaded CI box stays under the 5 s REST timeout


def _ids(response) -> list:
    return [p.id for p in response.points]


def _recall(client, name: str, using: str, params, flt=None) -> float:
    total = 0.0
    for q in QVECS:
        got = _ids(client.query_points(name, query=q, using=using, limit=10, search_params=params, query_filter=flt))
        want = _ids(client.query_points(name, query=q, using=using, limit=10, search_params=EXACT, query_filter=flt))
        assert len(got) == len(want)
        total += len(set(got) & set(want)) / len(want)
    return total / len(QVECS)


def _quant(**kw) -> models.SearchParams:
    return models.SearchParams(quantization=models.QuantizationSearchParams(**kw))


def test_quantized_search(client):
    """Recall after rescoring per type and encoding; rescore=False, ignore and exact (one ingest)."""
    _create(client)
    engine = engine_of(client)
    if engine is not None:
        codes = engine._collections["q"]._quant.codes
        assert sorted(codes) == sorted(VECTORS)
        assert {n: q.codec.kind for n, q in codes.items()} == {
            "scalar": "scalar", "pq_x4": "product", "pq_x64": "product",
            "bin_one": "binary", "bin_onehalf": "binary", "bin_two": "binary"}
    tenth = models.Filter(must=[models.FieldCondition(key="g", match=models.MatchValue(value=3))])
    for using, (_, _, oversampling) in VECTORS.items():
        params = _quant(rescore=True, oversampling=oversampling)
        assert _recall(client, "q", using, params) >= 0.95, using
        # 10 % filter: 300 points, scanned by their codes.
        assert _recall(client, "q", using, params, flt=tenth) >= 0.95, using
        if engine is not None:
            for flt in (None, tenth):
                client.query_points("q", query=QVECS[0], using=using, query_filter=flt, search_params=params)
                assert engine._collections["q"]._last_plan.path.endswith("+quantized"), using
    _check_rescore_false_ignore_and_exact(client, engine)


def _check_rescore_false_ignore_and_exact(client, engine) -> None:
    overlap, differs = 0.0, 0
    for q in QVECS:
        exact = {p.id: p.score for p in client.query_points("q", query=q, using="scalar", limit=10,
                                                               search_params=EXACT).points}
        approx = client.query_points("q", query=q, using="scalar", limit=10, search_params=_quant(rescore=False)).points
        overlap += len(set(exact) & {p.id for p in approx}) / 10
        full = {p.id: p.score for p in client.query_points(
            "q", query=q, using="scalar", limit=200, search_params=EXACT).points}
        differs += sum(1 for p in approx if p.id in full and abs(p.score - full[p.id]) > 1e-6)
        # Scalar's default is no rescoring (Qdrant's default_rescoring): code scores again.
        default = client.query_points("q", query=q, using="scalar", limit=10).points
        assert [(p.id, p.score) for p in default] == [(p.id, p.score) for p in approx]
        # ignore / exact: the originals only, exact scores.
        ignored = client.query_points("q", query=q, using="scalar", limit=10,
                                      search_params=models.SearchParams(hnsw_ef=800, quantization=models.QuantizationSearchParams(ignore=True)))
        assert {p.id: p.score for p in ignored.points} == pytest.approx(exact, abs=1e-5)
        if engine is not None:
            assert "quantized" not in engine._collections["q"]._last_plan.path
        exact_q = client.query_points("q", query=q, using="scalar", limit=10, search_params=models.SearchParams(
            exact=True, quantization=models.QuantizationSearchParams(rescore=False)))
        assert {p.id: p.score for p in exact_q.points} == pytest.approx(exact, abs=1e-5)
    assert overlap / len(QVECS) >= 0.8
    assert differs > 0
    # Binary rescores by default: its scores are the exact ones.
    q = QVECS[0]
    exact = {p.id: p.score for p in client.query_points("q", query=q, using="bin_one", limit=N, search_params=EXACT).points}
    for p in client.query_points("q", query=q, using="bin_one", limit=5).points:
        assert p.score == pytest.approx(exact[p.id], abs=1e-5)


def test_small_collection_stays_plain(client):
    _create(client, "small", points=300)     # 300 x 64 x 4 B = 75 KB < 100 KB
    engine = engine_of(client)
    if engine is not None:
        assert engine._collections["small"]._quant.codes == {}
    q = QVECS[0]
    plain = client.query_points("small", query=q, using="scalar", limit=10, search_params=_quant(rescore=False))
    exact = client.query_points("small", query=q, using="scalar", limit=10, search_params=EXACT)
    assert [(p.id, round(p.score, 5)) for p in plain.points] == [(p.id, round(p.score, 5)) for p in exact.points]


def test_config_round_trip_and_update(client):
    binary = models.BinaryQuantization(binary=models.BinaryQuantizationConfig(
        always_ram=True, encoding=models.BinaryQuantizationEncoding.ONE_AND_HALF_BITS,
        query_encoding=models.BinaryQuantizationQueryEncoding.SCALAR8BITS))
    scalar = models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
        type=models.ScalarType.INT8, quantile=0.75, always_ram=True))   # exact in gRPC's float32
    client.create_collection("c", vectors_config={
        "a": models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        "b": models.VectorParams(size=DIM, distance=models.Distance.DOT, quantization_config=binary),
    }, quantization_config=scalar, optimizers_config=LOW_THRESHOLD)
    cfg = client.get_collection("c").config
    assert cfg.quantization_config == scalar
    assert cfg.params.vectors["b"].quantization_config == binary
    assert cfg.params.vectors["a"].quantization_config is None
    client.upload_collection("c", vectors={"a": DATA[:1000], "b": DATA[:1000]}, ids=list(range(1000)))

    product = _product("x8")
    client.update_collection("c", quantization_config=product)
    assert client.get_collection("c").config.quantization_config == product
    engine = engine_of(client)
    if engine is not None:
        quant = engine._collections["c"]._quant
        assert quant.codes["a"].codec.kind == "product" and quant.codes["b"].codec.kind == "binary"
    # Per-vector Disabled: the collection's config applies to that vector again.
    client.update_collection("c", vectors_config={"b": models.VectorParamsDiff(quantization_config=models.Disabled.DISABLED)})
    assert client.get_collection("c").config.params.vectors["b"].quantization_config is None
    client.update_collection("c", quantization_config=models.Disabled.DISABLED)
    assert client.get_collection("c").config.quantization_config is None
    if engine is not None:
        assert engine._collections["c"]._quant.codes == {}
    # No codes: rescore=False returns the exact scores.
    q = QVECS[1]
    got = client.query_points("c", query=q, using="a", limit=10, search_params=_quant(rescore=False)).points
    exact = client.query_points("c", query=q, using="a", limit=10, search_params=EXACT).points
    assert {p.id: p.score for p in got} == pytest.approx({p.id: p.score for p in exact}, abs=1e-5)


@pytest.mark.parametrize("bad", [
    {"scalar": {"type": "int8", "quantile": 0.3}},
    {"scalar": {"type": "int8", "quantile": 1.5}},
    {"product": {"compression": "x3"}},
    {"binary": {"encoding": "three_bits"}},
])
def test_bad_configs_are_rejected(client, bad):
    with pytest.raises(BadRequestError):
        client.create_collection("bad", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT),
                                 quantization_config=bad)
    assert not client.collection_exists("bad")
    client.create_collection("ok", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
    with pytest.raises(BadRequestError):
        client.update_collection("ok", quantization_config=bad)
    assert client.get_collection("ok").config.quantization_config is None


def test_codes_survive_reopen_without_retraining(path_client_factory):
    client = path_client_factory.open()
    client.create_collection("p", vectors_config={
        "s": models.VectorParams(size=DIM, distance=models.Distance.COSINE, on_disk=True),
        "b": models.VectorParams(size=DIM, distance=models.Distance.EUCLID, quantization_config=_binary("two_bits")),
    }, quantization_config=SCALAR, optimizers_config=LOW_THRESHOLD)
    client.upload_collection("p", vectors={"s": DATA, "b": DATA}, ids=list(range(N)), batch_size=300)
    params = _quant(rescore=False)
    before = [[(p.id, p.score) for p in client.query_points("p", query=q, using=u, limit=10, search_params=params).points]
              for u in ("s", "b") for q in QVECS[:4]]
    client.close()

    client = path_client_factory.open()
    collection = engine_of(client)._collections["p"]
    quant = collection._quant
    assert quant.stats == {"trained": 0, "loaded": 2, "reencoded": 0, "mapped": 1}
    # "s" keeps its originals on disk: rescoring reads a memory map of the checkpoint file.
    assert isinstance(collection._dense["s"].data, np.memmap)
    assert not isinstance(collection._dense["b"].data, np.memmap)
    after = [[(p.id, p.score) for p in client.query_points("p", query=q, using=u, limit=10, search_params=params).points]
             for u in ("s", "b") for q in QVECS[:4]]
    assert after == before
    # A write after the reopen is encoded with the saved codec, and saved again on close.
    client.upsert("p", points=[models.PointStruct(id=10**6, vector={"s": QVECS[0].tolist(), "b": QVECS[0].tolist()})])
    assert client.query_points("p", query=QVECS[0], using="s", limit=1, search_params=params).points[0].id == 10**6
    rescored = _quant(rescore=True, oversampling=2.0)
    full = {p.id: p.score for p in client.query_points("p", query=QVECS[2], using="s", limit=N + 1,
                                                         search_params=EXACT).points}
    for p in client.query_points("p", query=QVECS[2], using="s", limit=10, search_params=rescored).points:
        assert p.score == pytest.approx(full[p.id], abs=1e-5)   # rescored from the mapped originals
    client.close()
    client = path_client_factory.open()
    quant = engine_of(client)._collections["p"]._quant
    assert quant.stats["trained"] == 0 and quant.stats["loaded"] == 2
    assert client.query_points("p", query=QVECS[0], using="b", limit=1, search_params=params).points[0].id == 10**6


def test_oversampling_below_one_is_rejected(client):
    client.create_collection("o", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    client.upsert("o", points=[models.PointStruct(id=1, vector=[1.0, 2.0])])
    with pytest.raises(BadRequestError):
        client.query_points("o", query=[1.0, 1.0], search_params=_quant(oversampling=0.5))
    assert [p.id for p in client.query_points("o", query=[1.0, 1.0], search_params=_quant(oversampling=3.0)).points] == [1]
