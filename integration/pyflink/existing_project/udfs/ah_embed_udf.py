from pyflink.table import DataTypes
from pyflink.table.udf import udf

from udfs._model import encoder


@udf(result_type=DataTypes.ARRAY(DataTypes.FLOAT()))
def ah_embed(first_name, last_name, email, country, balance, opened_at, active):
    text = (f"Customer {first_name} {last_name} <{email}> from {country}. "
            f"Balance {balance}, customer since {opened_at}, active: {active}")
    return encoder().encode(text).tolist()
