"""Quickstart: a collection, a few points, a filtered vector search. Run: python examples/quickstart.py"""

from sdk import QdrantClient, models

client = QdrantClient(":memory:")  # or QdrantClient(path="./qdrant-data") to keep the data

client.create_collection(
    "cities",
    vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE),
)
client.upsert(
    "cities",
    points=[
        models.PointStruct(id=1, vector=[0.05, 0.61, 0.76, 0.74], payload={"city": "Berlin", "population": 3.7}),
        models.PointStruct(id=2, vector=[0.19, 0.81, 0.75, 0.11], payload={"city": "London", "population": 8.9}),
        models.PointStruct(id=3, vector=[0.36, 0.55, 0.47, 0.94], payload={"city": "Moscow", "population": 12.6}),
        models.PointStruct(id=4, vector=[0.18, 0.01, 0.85, 0.80], payload={"city": "New York", "population": 8.8}),
    ],
)

hits = client.query_points(
    "cities",
    query=[0.2, 0.1, 0.9, 0.7],
    query_filter=models.Filter(must=[models.FieldCondition(key="population", range=models.Range(gte=5))]),
    limit=3,
).points

for hit in hits:
    print(f"{hit.id}  {hit.payload['city']:<10} score={hit.score:.4f}")

assert [hit.id for hit in hits] == [4, 3, 2]
client.close()
