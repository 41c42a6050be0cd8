"""LangChain's Qdrant integration (``langchain-qdrant``) driving our client.

``QdrantVectorStore`` is written against the official ``qdrant_client``: it builds requests with
``qdrant_client.models`` and calls the client's methods. These tests hand it our client instead,
in every sync mode (the store is synchronous), and compare each answer with the same store over
the official client's local mode on the same documents and embeddings: the same documents in the
same order, scores within 1e-4. Dense, sparse and hybrid (prefetch + RRF) retrieval, metadata
filters built with the official models, MMR, deletes and ``get_by_ids`` are covered.
"""

from __future__ import annotations

import zlib

import pytest

langchain_qdrant = pytest.importorskip("langchain_qdrant")

import qdrant_client  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import DeterministicFakeEmbedding  # noqa: E402
from langchain_qdrant import QdrantVectorStore, RetrievalMode, SparseEmbeddings, SparseVector  # noqa: E402
from qdrant_client import models as qm  # noqa: E402

from conftest import MODES, make_client, wipe  # noqa: E402

SYNC_MODES = [m for m in MODES if m.endswith("-sync")]
DIM = 24


class WordHashSparse(SparseEmbeddings):
    """A deterministic sparse embedding: one dimension per hashed word, value = count."""

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> SparseVector:
        # a per-text weight keeps documents that share the same words from tying
        weight = 1.0 + (zlib.crc32(text.encode()) % 1000) / 1000
        counts: dict[int, float] = {}
        for word in text.lower().split():
            key = zlib.crc32(word.encode()) % 5000
            counts[key] = counts.get(key, 0.0) + weight
        keys = sorted(counts)
        return SparseVector(indices=keys, values=[counts[k] for k in keys])


def _docs(n: int = 80) -> list[Document]:
    colours = ["red", "green", "blue", "amber"]
    return [
        Document(
            page_content=f"document {i} about {colours[i % 4]} things and topic{i % 9}",
            metadata={"n": i, "colour": colours[i % 4], "tags": [f"t{i % 3}", f"t{i % 5}"]},
        )
        for i in range(n)
    ]


def _ids(n: int) -> list[str]:
    import uuid

    return [str(uuid.UUID(int=i + 1)) for i in range(n)]


@pytest.fixture(params=SYNC_MODES)
def ours(request, tmp_path):
    mode = request.param
    remote = request.getfixturevalue("remote_server") if mode.split("-")[0] in ("rest", "grpc") else None
    if remote is not None:
        wipe(remote)
    client = make_client(mode, str(tmp_path / "db"), remote)
    yield client
    client.close()


def _pair(ours, mode: RetrievalMode):
    """The same store twice: over our client and over the official local mode."""
    dense, sparse = DeterministicFakeEmbedding(size=DIM), WordHashSparse()
    stores = []
    for client in (ours, qdrant_client.QdrantClient(":memory:")):
        vectors = {"dense": qm.VectorParams(size=DIM, distance=qm.Distance.COSINE)}
        sparse_cfg = {"sparse": qm.SparseVectorParams()}
        client.create_collection("lc", vectors_config=vectors, sparse_vectors_config=sparse_cfg)
        store = QdrantVectorStore(
            client=client, collection_name="lc", embedding=dense, sparse_embedding=sparse,
            retrieval_mode=mode, vector_name="dense", sparse_vector_name="sparse",
        )
        docs = _docs()
        store.add_documents(docs, ids=_ids(len(docs)))
        stores.append(store)
    return stores


def _same(got, want):
    """Same scores in the same order; ids equal, except that points tied on a score may come in
    any order (the last tied group may also be cut at a different member by ``k``)."""
    assert len(got) == len(want)
    if not want:
        return
    for (_, a), (_, b) in zip(got, want):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-6)
    groups: list[list[int]] = []
    for i, (_, score) in enumerate(want):
        if i and abs(score - want[i - 1][1]) <= 1e-6:
            groups[-1].append(i)
        else:
            groups.append([i])
    for group in groups[:-1]:
        assert {got[i][0].metadata["n"] for i in group} == {want[i][0].metadata["n"] for i in group}
    if len(groups[-1]) == 1 or len(want) < 6:
        i = groups[-1][0]
        assert got[i][0].metadata["n"] == want[i][0].metadata["n"]


@pytest.mark.parametrize("retrieval", [RetrievalMode.DENSE, RetrievalMode.SPARSE, RetrievalMode.HYBRID])
def test_similarity_search_matches_the_official_client(ours, retrieval):
    mine, official = _pair(ours, retrieval)
    for query in ["blue things", "document 17 about green", "topic3 amber", "nothing matches zzz"]:
        _same(mine.similarity_search_with_score(query, k=6), official.similarity_search_with_score(query, k=6))
    flt = qm.Filter(must=[qm.FieldCondition(key="metadata.colour", match=qm.MatchValue(value="red"))],
                    must_not=[qm.FieldCondition(key="metadata.tags[]", match=qm.MatchAny(any=["t1"]))])
    got = mine.similarity_search_with_score("red topic4", k=5, filter=flt)
    _same(got, official.similarity_search_with_score("red topic4", k=5, filter=flt))
    assert got and all(d.metadata["colour"] == "red" and "t1" not in d.metadata["tags"] for d, _ in got)


def test_mmr_delete_and_get_by_ids(ours):
    mine, official = _pair(ours, RetrievalMode.DENSE)
    want = [d.metadata["n"] for d in official.max_marginal_relevance_search("green topic2", k=5, fetch_k=20)]
    assert [d.metadata["n"] for d in mine.max_marginal_relevance_search("green topic2", k=5, fetch_k=20)] == want
    ids = _ids(80)
    assert mine.delete(ids=ids[:10]) is True
    official.delete(ids=ids[:10])
    assert ours.count("lc").count == 70
    got = mine.get_by_ids([ids[5], ids[15], ids[16]])
    assert sorted(d.metadata["n"] for d in got) == [15, 16]
    _same(mine.similarity_search_with_score("document 3", k=8), official.similarity_search_with_score("document 3", k=8))


def test_from_texts_creates_the_collection_through_our_client(ours):
    store = QdrantVectorStore(client=ours, collection_name="made", embedding=DeterministicFakeEmbedding(size=DIM),
                              validate_collection_config=False)
    ours.create_collection("made", vectors_config=qm.VectorParams(size=DIM, distance=qm.Distance.COSINE))
    store.add_texts(["alpha", "beta", "gamma"], metadatas=[{"k": 1}, {"k": 2}, {"k": 3}])
    hit = store.similarity_search("beta", k=1)[0]
    assert hit.page_content == "beta" and hit.metadata == {"k": 2, "_id": hit.metadata["_id"], "_collection_name": "made"}
