"""Scalar UDFs in an importable module, in the shapes PyFlink users write them."""
from pyflink.table.udf import ScalarFunction, udf


@udf(result_type='BIGINT')
def add_one(x):
    """Decorated: the module attribute is the wrapper, so cloudpickle pickles it by value."""
    return x + 1


def plain_add(a, b):
    """Undecorated: udf(plain_add, ...) wraps it, and it is pickled by reference."""
    return a + b


def make_nested(offset):
    """Returns a closure; its qualname contains '<locals>' so it is pickled by value."""
    def nested(x):
        return x + offset
    return nested


class Multiply(ScalarFunction):
    """Class-based UDF with constructor parameters (kept in the instance __dict__)."""

    def __init__(self, factor, label='times', enabled=True, ratio=0.5, extra=None,
                 tags=('a', 'b'), options=None):
        self.factor = factor
        self.label = label
        self.enabled = enabled
        self.ratio = ratio
        self.extra = extra
        self.tags = list(tags)
        self.options = options if options is not None else {'mode': 'fast', 'depth': 3}

    def eval(self, x):
        return x * self.factor if self.enabled else x


async def async_lookup(key):
    """Async function: udf() picks UserDefinedAsyncScalarFunctionWrapper."""
    return str(key)


def plain_mean(series):
    """Pandas UDAF body: udaf(plain_mean, func_type='pandas')."""
    return series.mean()


class Greeter(object):
    """Plain class whose bound method is handed to udf()."""

    def __init__(self, greeting):
        self.greeting = greeting

    def greet(self, name):
        return '%s, %s' % (self.greeting, name)
