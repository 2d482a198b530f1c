"""``embed(text STRING) -> ARRAY<FLOAT>``: the sentence-transformers embedding
of one text (all-MiniLM-L6-v2, 384 floats, normalised, 256-token truncation).
NULL in, NULL out; an empty string is embedded as it is.

    CREATE TEMPORARY FUNCTION embed AS 'udfs.embed_udf.embed' LANGUAGE PYTHON;

Pandas-style (``func_type="pandas"``: a whole Arrow batch per call, one
``encode`` for all its texts), the same function:

    CREATE TEMPORARY FUNCTION embed AS 'udfs.embed_udf.embed_pandas' LANGUAGE PYTHON;

or in the Table API ``udf(embed._func, result_type=..., func_type="pandas")``.

flinkfn recognises ``udfs.embed_udf.embed`` (the Python function both
declarations wrap) and runs its Go implementation, row-at-a-time or on the
whole batch.
"""

from pyflink.table import DataTypes
from pyflink.table.udf import udf

from udfs import _embedding

__all__ = ["embed", "embed_pandas"]


@udf(result_type=DataTypes.ARRAY(DataTypes.FLOAT()))
def embed(text):
    if _embedding.is_series(text):
        return _embedding.embed_series([_embedding.cell(t) for t in text.tolist()])
    return _embedding.embed_text(text)


embed_pandas = udf(embed._func, result_type=DataTypes.ARRAY(DataTypes.FLOAT()), func_type="pandas")
