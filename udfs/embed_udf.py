"""``embed(text STRING) -> ARRAY<FLOAT>``: the sentence-transformers embedding
of one text (all-MiniLM-L6-v2, 384 floats, normalised, 256-token truncation).
NULL in, NULL out; an empty string is embedded as it is.

    CREATE TEMPORARY FUNCTION embed AS 'udfs.embed_udf.embed' LANGUAGE PYTHON;

flinkfn recognises ``udfs.embed_udf.embed`` and runs its Go implementation.
"""

from pyflink.table import DataTypes
from pyflink.table.udf import udf

from udfs import _embedding


@udf(result_type=DataTypes.ARRAY(DataTypes.FLOAT()))
def embed(text):
    return _embedding.embed_text(text)
