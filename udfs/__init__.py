"""Python stubs of flinkfn's built-in functions.

``udfs.builtin`` holds one PyFlink ``@udf``/``@udtf`` per function that the
flinkfn Go worker implements natively. The same SQL or Table API job runs on
the stock PyFlink worker (which executes these Python bodies) and on flinkfn
(which recognises each function by the pickled ``(module, qualname)``, e.g.
``("udfs.builtin", "upper")``, and runs its Go implementation instead).

Register from SQL::

    CREATE TEMPORARY FUNCTION upper_py AS 'udfs.builtin.upper' LANGUAGE PYTHON

(with ``python.client.executable`` = a Python that has PyFlink, and the repo
root on ``python.pythonpath``/``python.files`` so the stock worker can import
this package), or use the objects directly in the Table API::

    from udfs.builtin import upper
    t.select(upper(col("s")))

This file is deliberately tiny: importing ``udfs`` must not import PyFlink.
"""
