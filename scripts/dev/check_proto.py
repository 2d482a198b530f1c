"""Checks fnharness/internal/flinkpb/flink_payloads.proto against the
flink-fn-execution.proto that PyFlink ships (its compiled descriptor):
every message, field and enum value we declare must exist in Flink's file
with the same number, type and label.

Usage: .cache/venv/bin/python scripts/dev/check_proto.py   (needs protoc)
"""
import os
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2
from pyflink.fn_execution import flink_fn_execution_pb2 as flink

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_DIR = os.path.join(ROOT, "fnharness", "internal", "flinkpb")


def ours():
    with tempfile.NamedTemporaryFile(suffix=".pb") as out:
        subprocess.run(["protoc", "-I", PROTO_DIR, "-o", out.name, "flink_payloads.proto"], check=True)
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(open(out.name, "rb").read())
    return fds.file[0]


def theirs():
    fdp = descriptor_pb2.FileDescriptorProto()
    flink.DESCRIPTOR.CopyToProto(fdp)
    return fdp


def index(fdp):
    msgs, enums = {}, {}

    def walk(prefix, ms, es):
        for e in es:
            enums[prefix + e.name] = {v.name: v.number for v in e.value}
        for m in ms:
            name = prefix + m.name
            msgs[name] = {f.name: (f.number, f.type, f.label, f.type_name.split(".")[-1]) for f in m.field}
            walk(name + ".", m.nested_type, m.enum_type)

    walk("", fdp.message_type, fdp.enum_type)
    return msgs, enums


def main():
    o, t = ours(), theirs()
    problems = []
    if o.package != t.package:
        problems.append(f"package {o.package} != Flink's {t.package}")
    om, oe = index(o)
    tm, te = index(t)
    nfields = 0
    for msg, fields in om.items():
        if msg not in tm:
            problems.append(f"message {msg} not in Flink's proto")
            continue
        for name, spec in fields.items():
            nfields += 1
            if name not in tm[msg]:
                problems.append(f"{msg}.{name} not in Flink's proto")
            elif tm[msg][name] != spec:
                problems.append(f"{msg}.{name}: ours {spec} != Flink's {tm[msg][name]}")
    for enum, values in oe.items():
        if enum not in te:
            problems.append(f"enum {enum} not in Flink's proto")
            continue
        for name, num in values.items():
            if te[enum].get(name) != num:
                problems.append(f"{enum}.{name} = {num}, Flink's = {te[enum].get(name)}")
    skipped = sorted(set(tm) - set(om))
    if problems:
        print("flink_payloads.proto disagrees with PyFlink's flink-fn-execution.proto:")
        for p in problems:
            print("  -", p)
        return 1
    print(f"flink_payloads.proto matches PyFlink's descriptor: {len(om)} messages, {nfields} fields, "
          f"{sum(len(v) for v in oe.values())} enum values checked; not declared by us: {', '.join(skipped)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
