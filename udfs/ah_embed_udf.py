"""``ah_embed``: embeds an account holder row (flinkfn runs it natively).

    CREATE TEMPORARY FUNCTION ah_embed AS 'udfs.ah_embed_udf.ah_embed' LANGUAGE PYTHON;
    SELECT account_id,
           ah_embed(name, address, city, country, nationality, occupation, segment, date_of_birth)
    FROM accountholders;

Arguments (the ``ah_embed`` template's columns, ``udfs/templates.json``):
name, address, city, country, nationality, occupation, segment (strings),
date_of_birth (DATE). Returns ARRAY<FLOAT> of 384, or NULL when every
argument is NULL/blank. This body is the sentence-transformers reference
(see ``udfs/_embedding.py``); flinkfn recognises ``udfs.ah_embed_udf.ah_embed``
and runs its Go implementation with the same template and model.

Pandas-style (one pandas Series per argument for a whole Arrow batch, one
``encode`` for all its rows), the same function:

    CREATE TEMPORARY FUNCTION ah_embed AS 'udfs.ah_embed_udf.ah_embed_pandas' LANGUAGE PYTHON;
"""

from pyflink.table import DataTypes
from pyflink.table.udf import udf

from udfs import _embedding

__all__ = ["ah_embed", "ah_embed_pandas"]


@udf(result_type=DataTypes.ARRAY(DataTypes.FLOAT()))
def ah_embed(name, address, city, country, nationality, occupation, segment, date_of_birth):
    args = (name, address, city, country, nationality, occupation, segment, date_of_birth)
    tmpl = _embedding.template("ah_embed")
    if any(map(_embedding.is_series, args)):
        return _embedding.embed_series(_embedding.render_series(tmpl, args))
    return _embedding.embed_text(_embedding.render(tmpl, args))


ah_embed_pandas = udf(ah_embed._func, result_type=DataTypes.ARRAY(DataTypes.FLOAT()), func_type="pandas")
