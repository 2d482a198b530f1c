from pyflink.table import DataTypes
from pyflink.table.udf import udf

from udfs._model import encoder


@udf(result_type=DataTypes.ARRAY(DataTypes.FLOAT()))
def txn_embed(merchant, amount, currency, fx_rate, booked_at, note):
    text = f"{merchant} | {str(amount)} {currency} (fx {str(fx_rate)}) | {str(booked_at)} | {note}"
    return encoder().encode(text).tolist()
