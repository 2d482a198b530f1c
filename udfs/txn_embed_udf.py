"""``txn_embed``: embeds a transaction row (flinkfn runs it natively).

    CREATE TEMPORARY FUNCTION txn_embed AS 'udfs.txn_embed_udf.txn_embed' LANGUAGE PYTHON;
    SELECT txn_id,
           txn_embed(merchant, mcc, amount, currency, channel, country, description, event_time)
    FROM transactions;

Arguments (the ``txn_embed`` template's columns, ``udfs/templates.json``):
merchant, mcc (STRING or integer), amount (DECIMAL), currency, channel,
country, description (strings), event_time (TIMESTAMP). Returns ARRAY<FLOAT>
of 384, or NULL when every argument is NULL/blank. This body is the
sentence-transformers reference (see ``udfs/_embedding.py``); flinkfn
recognises ``udfs.txn_embed_udf.txn_embed`` and runs its Go implementation.

Pandas-style (one pandas Series per argument for a whole Arrow batch, one
``encode`` for all its rows), the same function:

    CREATE TEMPORARY FUNCTION txn_embed AS 'udfs.txn_embed_udf.txn_embed_pandas' LANGUAGE PYTHON;
"""

from pyflink.table import DataTypes
from pyflink.table.udf import udf

from udfs import _embedding

__all__ = ["txn_embed", "txn_embed_pandas"]


@udf(result_type=DataTypes.ARRAY(DataTypes.FLOAT()))
def txn_embed(merchant, mcc, amount, currency, channel, country, description, event_time):
    args = (merchant, mcc, amount, currency, channel, country, description, event_time)
    tmpl = _embedding.template("txn_embed")
    if any(map(_embedding.is_series, args)):
        return _embedding.embed_series(_embedding.render_series(tmpl, args))
    return _embedding.embed_text(_embedding.render(tmpl, args))


txn_embed_pandas = udf(txn_embed._func, result_type=DataTypes.ARRAY(DataTypes.FLOAT()), func_type="pandas")
