"""The sentence-transformers model, loaded once per Python process.

Imported lazily so that the job's client (which only plans the job and has
no sentence-transformers) can import the udf modules.
"""

import os

MODEL = os.environ.get("ST_MODEL", "sentence-transformers/all-MiniLM-L6-v2")

_model = None


def encoder():
    global _model
    if _model is None:
        from sentence_transformers import SentenceTransformer
        _model = SentenceTransformer(MODEL, device="cpu")
    return _model
