"""Latency of the universal query's variants on 100,000 random 128-d Cosine vectors (in process).

    python benchmarks/bench_query.py

Figures are quoted in docs/query.md.
"""
import time, numpy as np
from sdk import QdrantClient, models
N, D = 100_000, 128
rng = np.random.default_rng(0)
X = rng.normal(size=(N, D)).astype(np.float32)
c = QdrantClient(":memory:")
c.create_collection("b", vectors_config=models.VectorParams(size=D, distance="Cosine"))
c.upload_collection("b", vectors=X, payload=({"n": int(i % 100), "g": int(i % 17)} for i in range(N)), ids=range(N), batch_size=5000)
q = rng.normal(size=D).astype(np.float32).tolist()
def t(label, f, reps=20):
    f()
    t0 = time.perf_counter()
    for _ in range(reps): f()
    print(f"{label:55s} {1000*(time.perf_counter()-t0)/reps:8.2f} ms")
t("nearest (HNSW)", lambda: c.query_points("b", query=q, limit=10))
pre = [models.Prefetch(query=q, limit=100), models.Prefetch(query=rng.normal(size=D).tolist(), limit=100)]
t("rrf of 2 prefetches x100 (HNSW)", lambda: c.query_points("b", prefetch=pre, query=models.FusionQuery(fusion="rrf"), limit=10))
t("formula over 2x100 prefetched", lambda: c.query_points("b", prefetch=pre, query=models.FormulaQuery(formula=models.SumExpression(sum=["$score", models.MultExpression(mult=[0.01, "n"])])), limit=10))
t("rescore 2x100 prefetched with nearest", lambda: c.query_points("b", prefetch=pre, query=q, limit=10))
t("nearest + mmr (candidates 100)", lambda: c.query_points("b", query=models.NearestQuery(nearest=q, mmr=models.Mmr(diversity=0.5, candidates_limit=100)), limit=10))
t("recommend average_vector (ids)", lambda: c.query_points("b", query=models.RecommendQuery(recommend=models.RecommendInput(positive=[1, 2], negative=[3])), limit=10))
t("recommend best_score exact over 100k (3 examples)", lambda: c.query_points("b", query=models.RecommendQuery(recommend=models.RecommendInput(positive=[1, 2], negative=[3], strategy="best_score")), limit=10), reps=5)
t("discover exact over 100k (1 pair)", lambda: c.query_points("b", query=models.DiscoverQuery(discover=models.DiscoverInput(target=1, context=[models.ContextPair(positive=2, negative=3)])), limit=10), reps=5)
t("query_points_groups by g (17 groups, nearest)", lambda: c.query_points_groups("b", "g", query=q, limit=5, group_size=2), reps=3)
t("search_matrix_pairs sample 100 limit 5", lambda: c.search_matrix_pairs("b", sample=100, limit=5), reps=5)
