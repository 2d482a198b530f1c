#!/usr/bin/env python3
"""Installs ONNX Runtime's GPU build and its CUDA libraries (make setup-gpu).

Reads scripts/setup/gpu/wheels.json: for the chosen profile (default cuda12: ONNX
Runtime 1.24.1, the CPU build's version, with the CUDA 12.8 / cuDNN 9
runtime libraries), downloads each pinned wheel from PyPI with
`pip download --no-deps` (any Python: the wheel's platform and Python tags
are pinned), checks its SHA-256, and copies the shared libraries the pin
names into <dest>/gpu/lib (default .cache/gpu/lib), where
`.cache/bin/flinkfn --device cuda` finds them:

    libonnxruntime.so, libonnxruntime_providers_shared.so,
    libonnxruntime_providers_cuda.so, libcudart.so.12, libcublas*.so.12,
    libcudnn*.so.9, libcufft.so.11, libcurand.so.10, libnvrtc*.so.12,
    libnvJitLink.so.12

Wheels are kept in .cache/downloads/gpu (about 1.9 GB for cuda12; the
unpacked libraries take about 3.4 GB). Idempotent: a wheel already there
with its SHA-256 is not downloaded again, and nothing is copied when
<dest>/gpu/lib/.installed names the same profile and pins. `make setup`
never runs this: CPU machines download none of it.

--wheels-from DIR takes the wheels from DIR (no network), e.g. on a machine
that cannot reach PyPI. --models also derives the models' GPU-only variants
(the fp16 files of inference/models/*/manifest.json marked "setup": "gpu",
scripts/setup/fp16.py in .cache/quant-venv).
"""

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: flinkfn_scripts
import flinkfn_scripts as fs  # noqa: E402

ROOT = fs.ROOT
PINS = os.path.join(ROOT, "scripts", "setup", "gpu", "wheels.json")


log = fs.logger("setup-gpu", sys.stderr)
sha256 = fs.sha256


def fetch_wheel(w, prof, downloads, wheels_from):
    """Returns the local path of wheel w, verified against its pin."""
    for d in [wheels_from, downloads]:
        if d:
            p = os.path.join(d, w["file"])
            if os.path.exists(p) and sha256(p) == w["sha256"]:
                return p
    if wheels_from:
        raise SystemExit(f"setup-gpu: {w['file']} with SHA-256 {w['sha256']} is not in {wheels_from}")
    os.makedirs(downloads, exist_ok=True)
    log(f"download {w['name']}=={w['version']} ({w['size'] / 2**20:.0f} MiB) from PyPI")
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
           "--only-binary=:all:", "--python-version", prof["python"], "-d", downloads]
    for p in prof["platforms"]:
        cmd += ["--platform", p]
    cmd.append(f"{w['name']}=={w['version']}")
    subprocess.run(cmd, check=True)
    p = os.path.join(downloads, w["file"])
    if not os.path.exists(p):
        raise SystemExit(f"setup-gpu: pip download {w['name']}=={w['version']} did not produce {w['file']} "
                         f"(files in {downloads}: {sorted(os.listdir(downloads))})")
    got = sha256(p)
    if got != w["sha256"]:
        os.unlink(p)
        raise SystemExit(f"setup-gpu: {w['file']}: SHA-256 {got}, scripts/setup/gpu/wheels.json pins {w['sha256']}")
    return p


def install_wheel(path, w, libdir):
    """Copies the members w["install"] names from the wheel into libdir."""
    n = 0
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        for spec in w["install"]:
            pattern, _, rename = spec.partition(":")
            hits = [m for m in names if fnmatch.fnmatch(m, pattern) and not m.endswith("/")]
            if not hits:
                raise SystemExit(f"setup-gpu: {w['file']} has no member {pattern}")
            for m in hits:
                dst = os.path.join(libdir, rename or os.path.basename(m))
                tmp = dst + ".part"
                with z.open(m) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                os.chmod(tmp, 0o755)
                os.replace(tmp, dst)
                n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    with open(PINS) as f:
        pins = json.load(f)
    ap.add_argument("--profile", default=os.environ.get("FLINKFN_GPU_PROFILE", pins["default_profile"]),
                    choices=sorted(pins["profiles"]))
    ap.add_argument("--dest", default=os.path.join(ROOT, ".cache"))
    ap.add_argument("--wheels-from", help="a folder holding the pinned wheels (no download)")
    ap.add_argument("--download-only", action="store_true", help="fetch and verify the wheels, install nothing")
    ap.add_argument("--models", action="store_true", help="also derive the models' GPU-only variants (fp16)")
    args = ap.parse_args()
    prof = pins["profiles"][args.profile]
    downloads = os.path.join(ROOT, ".cache", "downloads", "gpu")
    libdir = os.path.join(args.dest, "gpu", "lib")
    marker = os.path.join(libdir, ".installed")
    want = hashlib.sha256(json.dumps([args.profile, prof], sort_keys=True).encode()).hexdigest()
    have_ok = os.path.exists(marker) and open(marker).read().split()[:1] == [want] \
        and os.path.exists(os.path.join(libdir, "libonnxruntime_providers_cuda.so"))
    if have_ok and not args.download_only:
        log(f"{libdir}: profile {args.profile} (ONNX Runtime {prof['onnxruntime']}, CUDA {prof['cuda']}) already installed")
    else:
        paths = [(fetch_wheel(w, prof, downloads, args.wheels_from), w) for w in prof["wheels"]]
        if not args.download_only:
            if os.path.isdir(libdir):
                shutil.rmtree(libdir)
            os.makedirs(libdir)
            n = sum(install_wheel(p, w, libdir) for p, w in paths)
            with open(marker, "w") as f:
                f.write(f"{want} {args.profile} onnxruntime {prof['onnxruntime']} cuda {prof['cuda']}\n")
            log(f"installed {n} libraries of profile {args.profile} (ONNX Runtime {prof['onnxruntime']}, "
                f"CUDA {prof['cuda']}) into {libdir}")
    if args.models:
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "setup", "fetch_artifacts.py"), "--gpu-variants"], check=True)


if __name__ == "__main__":
    main()
