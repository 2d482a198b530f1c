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
"""

from pyflink.table import DataTypes
from pyflink.table.udf import udf

from udfs import _embedding


@udf(result_type=DataTypes.ARRAY(DataTypes.FLOAT()))
def ah_embed(name, address, city, country, nationality, occupation, segment, date_of_birth):
    text = _embedding.render(_embedding.template("ah_embed"),
                             (name, address, city, country, nationality, occupation, segment, date_of_birth))
    return _embedding.embed_text(text)
