"""Helper modules for scripts/gen_pickle_fixtures.py (importable UDF definitions).

Nothing here is used at run time by flinkfn; the modules only exist so that the fixture
generator can pickle UDFs that live in a real, importable module the way PyFlink does.
"""
