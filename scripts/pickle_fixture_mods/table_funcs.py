"""Table UDFs in an importable module."""
from pyflink.table.udf import TableFunction, udtf


class SplitWords(TableFunction):
    """Class-based table function with a constructor parameter."""

    def __init__(self, sep=' ', limit=-1):
        self.sep = sep
        self.limit = limit

    def eval(self, s):
        for w in s.split(self.sep, self.limit):
            yield w


@udtf(result_types=['STRING', 'INT'])
def explode(s):
    """Decorated table function (pickled by value inside DelegationTableFunction)."""
    for i, c in enumerate(s):
        yield c, i


def plain_range(n):
    """Undecorated generator: udtf(plain_range, ...) pickles it by reference."""
    for i in range(n):
        yield i
