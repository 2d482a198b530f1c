#!/usr/bin/env python3
"""Generates real UserDefinedFunction.payload fixtures for fnharness/internal/pickle.

It uses the REAL PyFlink and cloudpickle and goes through PyFlink's own code path:
UserDefinedFunctionWrapper._java_user_defined_function() builds the delegate
(DelegatingScalarFunction(f) / DelegationTableFunction(f) / ...) or keeps the user's
UserDefinedFunction instance and calls cloudpickle.dumps on it. Only the JVM side is stubbed:
pyflink.table.udf.get_gateway returns an inert object, and the wrapper's _create_judf (which
would construct the Java PythonScalarFunction over Py4J) is replaced on the instance so that it
returns the serialized bytes, which _java_user_defined_function() then caches and returns.

The SQL path (CREATE FUNCTION ... LANGUAGE PYTHON) ends in the same call:
pyflink.java_gateway.PythonFunctionFactory.getPythonFunction(module, name) does
getattr(importlib.import_module(module), name)._java_user_defined_function().

Usage (from the repository root):
    .cache/venv/bin/python scripts/gen_pickle_fixtures.py [--prefix cp2]
To produce cloudpickle 3.x variants, put a cloudpickle 3 install first on PYTHONPATH, e.g.
    pip install --target /tmp/cp3 cloudpickle==3.1.2
    PYTHONPATH=/tmp/cp3 .cache/venv/bin/python scripts/gen_pickle_fixtures.py --prefix cp3

Each run writes <prefix>_<case>.pkl files into fnharness/internal/pickle/testdata/payloads/ and
merges its entries into testdata/payloads.json. The expected identity of every payload is taken
from the live Python objects (f.__module__, f.__qualname__, type(obj).__module__, ...), not typed
by hand. The loaded payload is also round-tripped through cloudpickle.loads and checked against the
same identity, as the stock Python worker would see it.

Each run also rewrites testdata/vm_values.json: CPython pickles of plain values at protocols 0-5
with the expected result of a non-executing unpickler (see gen_vm_values below).
"""
import _compat_pickle
import argparse
import collections
import datetime
import decimal
import importlib
import inspect
import json
import math
import os
import pickle
import platform
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)  # makes pickle_fixture_mods importable

import cloudpickle  # noqa: E402
import pyflink.table.udf as udf_mod  # noqa: E402
from pyflink.table.udf import (  # noqa: E402
    ScalarFunction, TableFunction, UserDefinedFunction, udf, udtf, udaf)

from pickle_fixture_mods import plain_objects, scalar_funcs, table_funcs  # noqa: E402

TESTDATA = os.path.join(ROOT, "fnharness", "internal", "pickle", "testdata")


class _Inert(object):
    """Stands in for the Py4J gateway: every attribute and call yields another _Inert."""

    def __getattr__(self, name):
        return _Inert()

    def __call__(self, *args, **kwargs):
        return _Inert()


def payload_of(wrapper):
    """Runs PyFlink's _java_user_defined_function() without a JVM and returns the pickle."""
    wrapper._create_judf = lambda serialized_func, j_input_types, j_function_kind: \
        bytes(serialized_func)
    return wrapper._java_user_defined_function()


def sql_payload_of(module, name):
    """Mirrors pyflink.java_gateway.PythonFunctionFactory.getPythonFunction(module, name)."""
    udf_wrapper = getattr(importlib.import_module(module), name)
    udf_wrapper._judf_placeholder = None  # as in a fresh callback-server process
    return payload_of(udf_wrapper)


# ---- UDFs defined in __main__ (the user's job script) ----------------------------------------

FACTOR = 3


def main_upper(s):
    """A plain function in the job script (module __main__), pickled by value."""
    return s.upper() + str(FACTOR) + str(math.floor(1.5))


@udf(result_type='STRING')
def main_decorated(s):
    return s[::-1]


class MainScale(ScalarFunction):
    """A class-based UDF defined in the job script: the class itself is pickled by value."""

    def __init__(self, factor, name='scale'):
        self.factor = factor
        self.name = name

    def eval(self, x):
        return x * self.factor


class MainSplit(TableFunction):
    def __init__(self, sep):
        self.sep = sep

    def eval(self, s):
        yield from s.split(self.sep)


class MainCallable(object):
    """Not a UserDefinedFunction: udf() wraps the callable instance in DelegatingScalarFunction."""

    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return x + self.k


def _describe_func(f):
    return {"module": f.__module__, "qualname": f.__qualname__}


def _simple_state(obj):
    out = {}
    for k, v in vars(obj).items():
        out[k] = _jsonable(v)
    return out


def _jsonable(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return repr(v)


def _kind(obj):
    t = type(obj)
    return t.__module__ + "." + t.__qualname__


def build_cases():
    """Returns [(case, wrapper_or_payload, expected)]."""
    cases = []

    def add(case, description, wrapper, by_value, payload=None):
        func = wrapper._func
        if isinstance(func, UserDefinedFunction):
            root = func
            ident = {"module": type(func).__module__, "qualname": type(func).__qualname__}
            state = _simple_state(func)
            delegating = False
        else:
            root = wrapper._create_delegate_function()
            if inspect.ismethod(func):  # bound method: function + the instance it is bound to
                ident = _describe_func(func)
                state = _simple_state(func.__self__)
            elif hasattr(func, "__qualname__"):
                ident = _describe_func(func)
                if by_value:
                    ident["filename"] = func.__code__.co_filename
                state = None
            else:  # callable instance
                ident = {"module": type(func).__module__, "qualname": type(func).__qualname__}
                state = _simple_state(func)
            delegating = True
        expected = dict(ident)
        expected.update({
            "kind": _kind(root),
            "delegating": delegating,
            "by_value": by_value,
        })
        if state is not None:
            expected["state"] = state
        cases.append((case, description, payload if payload is not None else payload_of(wrapper),
                      expected))

    add("decorated_module_func",
        "@udf-decorated function in an importable module (DelegatingScalarFunction, by value)",
        scalar_funcs.add_one, True)
    add("sql_decorated_module_func",
        "same function through the SQL path PythonFunctionFactory.getPythonFunction",
        scalar_funcs.add_one, True,
        payload=sql_payload_of("pickle_fixture_mods.scalar_funcs", "add_one"))
    add("plain_module_func",
        "undecorated module function wrapped by udf() (DelegatingScalarFunction, by reference)",
        udf(scalar_funcs.plain_add, result_type='BIGINT'), False)
    add("lambda_main",
        "lambda in the job script (__main__, <lambda>, by value)",
        udf(lambda x: x * FACTOR, result_type='BIGINT'), True)
    add("nested_func",
        "closure returned by a module function (<locals>, by value)",
        udf(scalar_funcs.make_nested(10), result_type='BIGINT'), True)
    add("main_func",
        "plain function in __main__ using a global and a module (by value)",
        udf(main_upper, result_type='STRING'), True)
    add("main_decorated",
        "@udf-decorated function in __main__ (by value)",
        main_decorated, True)
    add("class_scalar",
        "class-based ScalarFunction instance from a module, constructor parameters in state",
        udf(scalar_funcs.Multiply(3, label='triple', ratio=1.25, options={'mode': 'slow',
                                                                          'depth': 7}),
            result_type='BIGINT'), False)
    add("class_table",
        "class-based TableFunction instance from a module",
        udtf(table_funcs.SplitWords(sep=','), result_types=['STRING']), False)
    add("udtf_decorated",
        "@udtf-decorated function in a module (DelegationTableFunction, by value)",
        table_funcs.explode, True)
    add("udtf_plain",
        "undecorated generator wrapped by udtf() (DelegationTableFunction, by reference)",
        udtf(table_funcs.plain_range, result_types=['INT']), False)
    add("class_main",
        "class-based ScalarFunction defined in __main__ (class rebuilt by value)",
        udf(MainScale(2.5, name='half'), result_type='DOUBLE'), True)
    add("class_table_main",
        "class-based TableFunction defined in __main__ (class rebuilt by value)",
        udtf(MainSplit('|'), result_types=['STRING']), True)
    add("callable_instance_main",
        "callable (non-UDF) instance of a __main__ class wrapped in DelegatingScalarFunction",
        udf(MainCallable(5), result_type='BIGINT'), True)
    add("bound_method",
        "bound method of a plain module class instance wrapped by udf()",
        udf(scalar_funcs.Greeter('hello').greet, result_type='STRING'), False)
    add("async_plain_module_func",
        "async module function wrapped by udf() (DelegatingAsyncScalarFunction, by reference)",
        udf(scalar_funcs.async_lookup, result_type='STRING'), False)
    add("pandas_udaf_module_func",
        "pandas UDAF from a module function (DelegatingPandasAggregateFunction, by reference)",
        udaf(scalar_funcs.plain_mean, result_type='DOUBLE', func_type='pandas'), False)
    return cases


def check_roundtrip(payload, expected):
    obj = cloudpickle.loads(payload)
    assert _kind(obj) == expected["kind"], (_kind(obj), expected)
    target = obj.func if expected["delegating"] else obj
    if inspect.ismethod(target) or (hasattr(target, "__qualname__")
                                    and not expected.get("state")):
        got = _describe_func(target)
    else:
        got = {"module": type(target).__module__, "qualname": type(target).__qualname__}
    assert got == {"module": expected["module"], "qualname": expected["qualname"]}, \
        (got, expected)


# ---- VM reference values ------------------------------------------------------------------
#
# testdata/vm_values.json holds pickles of plain Python values made by CPython's own pickler at
# protocols 0-5, each with the value a non-executing unpickler must produce, in a tagged JSON
# form. The expected values come from a reference unpickler: CPython's pure-Python
# pickle._Unpickler with find_class / REDUCE / NEWOBJ / NEWOBJ_EX / BUILD / INST / OBJ
# replaced so that nothing is imported or called (globals become ("global", module, name),
# calls become ("call", ...)), i.e. CPython's opcode semantics with the same "never execute"
# rule as the Go package.

class _G(object):
    def __init__(self, module, name):
        self.module, self.name = module, name


class _C(object):
    def __init__(self, callable_, args, kwargs=None, new=False):
        self.callable, self.args, self.kwargs, self.new = callable_, args, kwargs, new
        self.state, self.has_state = None, False
        self.list_items, self.dict_items = [], []

    def append(self, v):
        self.list_items.append(v)

    def extend(self, vs):
        self.list_items.extend(vs)

    def __setitem__(self, k, v):
        self.dict_items.append((k, v))


class _RefUnpickler(pickle._Unpickler):
    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module, name):
        if self.proto < 3 and self.fix_imports:
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        return _G(module, name)

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent IDs are not supported")

    def load_reduce(self):
        stack = self.stack
        args = stack.pop()
        stack[-1] = _C(stack[-1], args)
    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(_C(cls, args, new=True))
    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(_C(cls, args, kwargs, new=True))
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def load_inst(self):
        module = self.readline()[:-1].decode("ascii")
        name = self.readline()[:-1].decode("ascii")
        klass = self.find_class(module, name)
        self.append(_C(klass, tuple(self.pop_mark())))
    dispatch[pickle.INST[0]] = load_inst

    def load_obj(self):
        args = self.pop_mark()
        cls = args.pop(0)
        self.append(_C(cls, tuple(args)))
    dispatch[pickle.OBJ[0]] = load_obj

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if not isinstance(inst, _C):
            raise pickle.UnpicklingError("BUILD on %r" % type(inst))
        if inst.has_state and isinstance(inst.state, dict) and isinstance(state, dict):
            merged = dict(inst.state)
            merged.update(state)
            inst.state = merged
        else:
            inst.state = state
        inst.has_state = True
    dispatch[pickle.BUILD[0]] = load_build


def canon(v, depth=0):
    if depth > 50:
        raise ValueError("too deep")
    d = depth + 1
    if v is None:
        return ["none"]
    if isinstance(v, bool):
        return ["bool", v]
    if isinstance(v, int):
        return ["int", str(v)]
    if isinstance(v, float):
        return ["float", "nan" if math.isnan(v) else struct.pack(">d", v).hex()]
    if isinstance(v, str):
        return ["str", v]
    if isinstance(v, bytes):
        return ["bytes", v.hex()]
    if isinstance(v, bytearray):
        return ["bytearray", bytes(v).hex()]
    if isinstance(v, tuple):
        return ["tuple", [canon(x, d) for x in v]]
    if isinstance(v, list):
        return ["list", [canon(x, d) for x in v]]
    if isinstance(v, dict):
        return ["dict", [[canon(k, d), canon(x, d)] for k, x in v.items()]]
    if isinstance(v, frozenset):
        return ["frozenset", [canon(x, d) for x in v]]
    if isinstance(v, set):
        return ["set", [canon(x, d) for x in v]]
    if isinstance(v, _G):
        return ["global", v.module, v.name]
    if isinstance(v, _C):
        return ["call", canon(v.callable, d), canon(v.args, d),
                None if v.kwargs is None else canon(v.kwargs, d), v.new,
                canon(v.state, d) if v.has_state else None,
                [canon(x, d) for x in v.list_items],
                [[canon(k, d), canon(x, d)] for k, x in v.dict_items]]
    raise TypeError("cannot canonicalize %r" % type(v))


def vm_values():
    shared = [1, 2]
    strs = ["s%d" % i for i in range(300)]
    tl = plain_objects.TaggedList([1, 2, 3], "t")
    td = plain_objects.TaggedDict(a=1, b=2)
    return [
        ("none", None), ("true", True), ("false", False),
        ("int_0", 0), ("int_1", 1), ("int_m1", -1), ("int_255", 255), ("int_256", 256),
        ("int_65535", 65535), ("int_65536", 65536), ("int32_max", 2**31 - 1),
        ("int32_min", -2**31), ("int_2p31", 2**31), ("int64_max", 2**63 - 1),
        ("int64_min", -2**63), ("int_2p64", 2**64), ("int_m2p100", -(2**100)),
        ("int_1e50", 10**50), ("int_huge", 7**2000),
        ("float_0", 0.0), ("float_neg0", -0.0), ("float_1_5", 1.5), ("float_0_1", 0.1),
        ("float_1e300", 1e300), ("float_inf", float("inf")), ("float_ninf", float("-inf")),
        ("float_nan", float("nan")), ("float_100", 100.0),
        ("str_empty", ""), ("str_abc", "abc"), ("str_unicode", "h\u00e9llo \u2713 \U0001F600"),
        ("str_escapes", "a\nb\\c'\"\t\r\x00"), ("str_backslash_u", "\\u1234 \\\\u0041 \\U0001F600"),
        ("str_300", "x" * 300), ("str_latin1", "\x00\x7f\x80\xff"),
        ("bytes_empty", b""), ("bytes_mixed", b"\x00\xff abc\n"), ("bytes_300", bytes(300)),
        ("bytearray", bytearray(b"xyz")),
        ("tuple_0", ()), ("tuple_1", (1,)), ("tuple_2", (1, "a")), ("tuple_3", (1, 2, 3)),
        ("tuple_4", (1, 2, 3, 4)), ("tuple_nested", ((), ((1,),), [()])),
        ("list_empty", []), ("list_mixed", [1, "a", None, 2.5]), ("list_1100", list(range(1100))),
        ("list_nested", [[], [[1]], {"k": []}]),
        ("dict_empty", {}), ("dict_str", {"a": 1, "b": [1, 2]}),
        ("dict_mixed_keys", {1: "x", (1, 2): "t", None: 0, "s": b"b"}),
        ("dict_1100", {i: i for i in range(1100)}),
        ("set_empty", set()), ("set_ints", {1, 2, 3}), ("frozenset_empty", frozenset()),
        ("frozenset_str", frozenset(["a"])),
        ("shared_refs", [shared, shared, (shared,)]), ("memo_300", strs + strs),
        ("decimal", decimal.Decimal("123.45")), ("ordered_dict", collections.OrderedDict(a=1)),
        ("date", datetime.date(2024, 1, 2)), ("complex", complex(1, 2)),
        ("point", plain_objects.Point(1, "y")), ("slotted", plain_objects.Slotted(1, [2])),
        ("reduced", plain_objects.Reduced(4)), ("kwonly", plain_objects.KwOnly(size=3)),
        ("tagged_list", tl), ("tagged_dict", td),
        ("global_func", plain_objects.Point), ("builtin_func", len),
    ]


def gen_vm_values():
    cases = []
    big = {"list_1100", "dict_1100", "memo_300"}  # batching, LONG_BINPUT: 2 protocols
    for name, value in vm_values():
        for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
            if name in big and proto not in (1, 4):
                continue
            try:
                data = pickle.dumps(value, protocol=proto)
            except TypeError:  # e.g. __slots__ classes need protocol 2
                continue
            expected = canon(_RefUnpickler(__import__("io").BytesIO(data)).load())
            cases.append({"name": name, "protocol": proto, "hex": data.hex(),
                          "expected": expected})
    path = os.path.join(TESTDATA, "vm_values.json")
    with open(path, "w") as f:  # one case per line keeps diffs readable
        f.write('{"python": %s, "cases": [\n' % json.dumps(platform.python_version()))
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write("\n]}\n")
    print("wrote %d VM reference cases" % len(cases))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", default="cp%s" % cloudpickle.__version__.split(".")[0])
    args = ap.parse_args()

    udf_mod.get_gateway = lambda: _Inert()

    outdir = os.path.join(TESTDATA, "payloads")
    os.makedirs(outdir, exist_ok=True)
    manifest_path = os.path.join(TESTDATA, "payloads.json")
    manifest = {"payloads": []}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    entries = [e for e in manifest["payloads"]
               if not os.path.basename(e["file"]).startswith(args.prefix + "_")]

    from importlib.metadata import version
    cases = build_cases()
    for case, description, payload, expected in cases:
        check_roundtrip(payload, expected)
        name = "%s_%s.pkl" % (args.prefix, case)
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(payload)
        entry = {
            "file": "payloads/" + name,
            "case": case,
            "description": description,
            "cloudpickle": cloudpickle.__version__,
            "python": platform.python_version(),
            "pyflink": version("apache-flink"),
            "size": len(payload),
        }
        entry.update(expected)
        entries.append(entry)
    entries.sort(key=lambda e: e["file"])
    manifest["payloads"] = entries
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote %d payloads with cloudpickle %s (prefix %s)"
          % (len(cases), cloudpickle.__version__, args.prefix))
    gen_vm_values()


if __name__ == "__main__":
    main()
