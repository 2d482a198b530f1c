#!/usr/bin/env python3
"""Validates devlab/k8s/*.yaml against the Flink Kubernetes Operator's CRD schema.

    make devlab-k8s-validate
    .cache/venv/bin/python scripts/devlab/devlab_k8s_validate.py [FILE.yaml ...]

The schema: the openAPIV3Schema of the CustomResourceDefinition that the
operator's API artifact ships (org.apache.flink:flink-kubernetes-operator-api,
META-INF/fabric8/<plural>.flink.apache.org-v1.yml; the newest on Maven
Central, SHA-256 pinned), for the document's kind and apiVersion. The
validator: PyPI's jsonschema (Draft 7 semantics; Kubernetes' x-kubernetes-*
extensions are ignored, `additionalProperties` is not set by the CRD, so an
unknown field is flagged here by a structural check like the API server's
pruning: every key must be a declared property). Exit status 0 when every
document validates.
"""

import glob
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: flinkfn_scripts
import flinkfn_scripts as fs  # noqa: E402

ROOT = fs.ROOT

OPERATOR_API = "org.apache.flink:flink-kubernetes-operator-api:1.10.0"
OPERATOR_API_SHA256 = "b1f44814e17514fa8395c61b329a3ee9087123a5bda5b21fe1a495d5182c30b6"
PLURAL = {"FlinkDeployment": "flinkdeployments", "FlinkSessionJob": "flinksessionjobs"}


log = fs.logger("devlab-k8s")


def crd_schema(kind, api_version):
    import yaml
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "setup"))
    import fetch_artifacts  # scripts/setup/
    jar = fetch_artifacts.fetch_jar(OPERATOR_API, OPERATOR_API_SHA256,
                                    os.path.join(ROOT, ".cache", "devlab", "downloads"))
    entry = f"META-INF/fabric8/{PLURAL[kind]}.flink.apache.org-v1.yml"
    with zipfile.ZipFile(jar) as z:
        crd = yaml.safe_load(z.read(entry))
    version = api_version.split("/", 1)[1]
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return v["schema"]["openAPIV3Schema"], f"{OPERATOR_API} {entry} ({version})"
    raise SystemExit(f"{entry} has no version {version} ({[v['name'] for v in crd['spec']['versions']]})")


# Every object has these; a CRD's schema does not declare them at the root.
ROOT_FIELDS = {"apiVersion", "kind", "metadata"}


def unknown_fields(doc, schema, path="$"):
    """Keys the schema does not declare (the API server prunes or rejects them)."""
    out = []
    if isinstance(doc, dict) and schema.get("type") == "object":
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if props is None and isinstance(extra, dict):
            for k, v in doc.items():
                out += unknown_fields(v, extra, f"{path}.{k}")
        elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
            for k, v in doc.items():
                if path == "$" and k in ROOT_FIELDS:
                    continue
                if k not in props:
                    out.append(f"{path}.{k}")
                else:
                    out += unknown_fields(v, props[k], f"{path}.{k}")
    elif isinstance(doc, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(doc):
            out += unknown_fields(v, schema["items"], f"{path}[{i}]")
    return out


def validate(path, docs=None, quiet=False):
    import jsonschema
    import yaml
    problems = 0
    if docs is None:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
    say = (lambda m: None) if quiet else log
    for d in docs:
        kind, api = d.get("kind"), d.get("apiVersion", "")
        if kind not in PLURAL or not api.startswith("flink.apache.org/"):
            say(f"{os.path.relpath(path, ROOT)}: {kind} {api}: not an operator resource, skipped")
            continue
        schema, where = crd_schema(kind, api)
        errs = sorted(jsonschema.Draft7Validator(schema).iter_errors(d), key=lambda e: list(e.path))
        for e in errs:
            say(f"FAIL: {os.path.relpath(path, ROOT)}: {kind} {d['metadata']['name']}: "
                f"{'.'.join(map(str, e.path)) or '$'}: {e.message}")
        unknown = unknown_fields(d, schema)
        for u in unknown:
            say(f"FAIL: {os.path.relpath(path, ROOT)}: {kind} {d['metadata']['name']}: {u} is not in the CRD schema")
        problems += len(errs) + len(unknown)
        if not errs and not unknown:
            say(f"ok: {os.path.relpath(path, ROOT)}: {kind} {d['metadata']['name']} validates against {where} "
                f"(jsonschema {jsonschema_version()})")
    return problems


def jsonschema_version():
    from importlib.metadata import version
    return version("jsonschema")


def self_test(path):
    """The validator rejects what the API server would: a wrong type, a
    value outside an enum, a misspelt field (each in a copy of path)."""
    import copy
    import yaml
    with open(path, encoding="utf-8") as f:
        base = [d for d in yaml.safe_load_all(f) if d]
    fd = next(i for i, d in enumerate(base) if d.get("kind") == "FlinkDeployment")
    cases = {
        "taskManager.replicas as a string": lambda d: d["spec"]["taskManager"].__setitem__("replicas", "two"),
        "flinkVersion v9_9": lambda d: d["spec"].__setitem__("flinkVersion", "v9_9"),
        "misspelt taskManager.podTemplate.spec.volumes": lambda d: d["spec"]["taskManager"]["podTemplate"]["spec"]
        .__setitem__("volume", d["spec"]["taskManager"]["podTemplate"]["spec"].pop("volumes")),
    }
    bad = 0
    for what, mutate in cases.items():
        docs = copy.deepcopy(base)
        mutate(docs[fd])
        if validate(path, docs, quiet=True) == 0:
            log(f"FAIL: self-test: a copy with {what} validates")
            bad += 1
    if not bad:
        log(f"ok: self-test: {len(cases)} broken copies rejected ({', '.join(cases)})")
    return bad


def main():
    files = sys.argv[1:] or sorted(glob.glob(os.path.join(ROOT, "devlab", "k8s", "*.yaml")))
    if not files:
        log("FAIL: no devlab/k8s/*.yaml")
        return 1
    n = sum(validate(f) for f in files)
    n += self_test(files[0])
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main())
