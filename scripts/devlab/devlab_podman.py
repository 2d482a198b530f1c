#!/usr/bin/env python3
"""devlab in real containers with podman: images built here, the compose file run.

    make devlab-images | devlab-up | devlab-job | devlab-down | devlab-container-test
    .cache/venv/bin/python scripts/devlab/devlab_podman.py setup|images|up|job|down|faults|oom|test [options]

The driver reads devlab/docker-compose.yaml (services, images, commands,
environment, volumes, ports, health checks, memory limits, replicas) and runs
it with the podman CLI; devlab/README.md ("podman") says why a driver of our
own rather than podman-compose or `podman kube play`: podman runs health checks
from systemd timers, and there is no systemd here (nor in CI's sandbox), so
`depends_on: condition: service_healthy` would never be met; the driver runs
each service's health-check command itself with `podman exec`.

setup    podman, runc and mmdebstrap from Debian (apt-get, only when missing);
         podman settings from devlab/podman/containers.conf (CONTAINERS_CONF).
images   1. a Debian bookworm rootfs (mmdebstrap, devlab/podman/rootfs.packages,
            SOURCE_DATE_EPOCH fixed), cached in .cache/devlab/podman/, imported
            as localhost/flinkfn-devlab-rootfs:bookworm;
         2. localhost/flinkfn-devlab-flinkbase:<flink>: the official Flink
            image's layout on it (devlab/podman/base.Containerfile) with Flink's
            distribution from PyPI's apache-flink (scripts/devlab/devlab_local.py
            builds it) and the SQL gateway jar from Maven Central;
         3. localhost/flinkfn-devlab-dist:<flink>: .cache/bin/flinkfn, ONNX
            Runtime and all-MiniLM-L6-v2 as scripts/setup/setup.sh installed them;
         4. devlab/Dockerfile's targets flink and client on those
            (--build-arg FLINK_IMAGE, FLINKFN_DIST, PIP_WHEELS: PyFlink from
            wheels built here into .cache/devlab/podman/wheels), with
            --timestamp so that the same inputs give the same image layers.
         Prints the image sizes.
up       network, volume, JobManager, then --taskmanagers N (default
         deploy.replicas, 2 here) TaskManagers, each waited for (health check);
         then waits until Flink has every slot.
job      the compose `job` service (SQL client, verification, pools' metrics)
         plus: every pool served a session (subtasks on every TaskManager).
down     removes the containers, the network and the data volume.
faults   job runs twice on a running cluster: one TaskManager container killed
         mid-job, then one pool (SIGKILL inside its container); each time the
         job must finish with every row exactly once (devlab_job's checks).
oom      the memory-limit demonstration (devlab/README.md "OOM").
test     images, then up/job/faults/down (make devlab-container-test);
         DEVLAB_CONTAINER_OOM=1 adds oom.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: flinkfn_scripts
import flinkfn_scripts as fs  # noqa: E402

ROOT = fs.ROOT

COMPOSE = os.path.join(ROOT, "devlab", "docker-compose.yaml")
PODMAN_DIR = os.path.join(ROOT, "devlab", "podman")
CACHE = os.path.join(ROOT, ".cache", "devlab", "podman")
LABEL = "io.flinkfn.devlab"
# Fixed layer and rootfs timestamps (2026-01-01): rebuilding from the same
# inputs gives the same layers.
EPOCH = 1767225600
ROOTFS_IMAGE = "localhost/flinkfn-devlab-rootfs:bookworm"
DEBIAN_MIRROR = os.environ.get("DEVLAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")
MODEL = "all-MiniLM-L6-v2"


log = fs.logger("devlab-podman")


class Fail(Exception):
    """A step failed; the message says why and what to do."""


# ---------------------------------------------------------------- podman

def podman_env():
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = os.path.join(PODMAN_DIR, "containers.conf")
    return env


def podman(*args, check=True, capture=True, timeout=None):
    cmd = ["podman", *args]
    p = subprocess.run(cmd, env=podman_env(), stdin=subprocess.DEVNULL, timeout=timeout,
                       capture_output=capture, text=True)
    if check and p.returncode != 0:
        err = (p.stderr or "").strip()[-2000:] if capture else ""
        raise Fail(f"`{' '.join(cmd[:6])}{' ...' if len(cmd) > 6 else ''}` exited {p.returncode}: {err}")
    return p


def setup():
    missing = [t for t in ("podman", "runc", "mmdebstrap") if not shutil.which(t)]
    if missing:
        if os.geteuid() != 0:
            raise Fail(f"{', '.join(missing)} missing: install podman, runc and mmdebstrap from Debian "
                       "(apt-get install podman runc mmdebstrap) as root")
        log(f"installing {', '.join(missing)} from Debian (apt-get)")
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "podman", "runc",
                        "mmdebstrap", "netavark", "aardvark-dns", "uidmap", "iptables", "conmon",
                        "containernetworking-plugins", "catatonit"],
                       check=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    v = podman("version", "--format", "{{.Client.Version}}").stdout.strip()
    log(f"podman {v}, runtime runc, cgroup manager cgroupfs ({os.path.relpath(PODMAN_DIR, ROOT)}/containers.conf)")


# ---------------------------------------------------------------- compose

def compose():
    import yaml
    with open(COMPOSE, encoding="utf-8") as f:
        return yaml.safe_load(f)


def flink_version():
    with open(os.path.join(ROOT, "scripts", "setup", "pyflink-version"), encoding="utf-8") as f:
        return f.read().strip()


def image_exists(ref):
    return podman("image", "exists", ref, check=False).returncode == 0


def image_label(ref, key):
    p = podman("image", "inspect", "--format", "{{json .Labels}}", ref, check=False)
    if p.returncode != 0:
        return None
    return (json.loads(p.stdout.strip() or "null") or {}).get(key)


# ---------------------------------------------------------------- images

def _digest(*parts):
    import hashlib
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:16]


def rootfs():
    """The Debian rootfs tarball (cached) imported as ROOTFS_IMAGE."""
    with open(os.path.join(PODMAN_DIR, "rootfs.packages"), encoding="utf-8") as f:
        pkgs = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    key = _digest("bookworm", "minbase", DEBIAN_MIRROR, *pkgs)
    tar = os.path.join(CACHE, f"rootfs-bookworm-{key}.tar")
    if not os.path.exists(tar):
        os.makedirs(CACHE, exist_ok=True)
        log(f"building the Debian bookworm rootfs with mmdebstrap ({', '.join(pkgs)})")
        t0 = time.monotonic()
        tmp = tar + ".tmp"
        hook = ('rm -rf "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/* '
                '"$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*; '
                'chroot "$1" dpkg-query -W -f=\'${Package} ${Version}\\n\' > "$1"/etc/devlab-packages.txt')
        p = subprocess.run(["mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar",
                            "--include=" + ",".join(pkgs), "--aptopt=Acquire::Languages \"none\"",
                            "--customize-hook=" + hook, "bookworm", tmp, DEBIAN_MIRROR],
                           env=dict(os.environ, SOURCE_DATE_EPOCH=str(EPOCH)), capture_output=True, text=True)
        if p.returncode != 0:
            raise Fail(f"mmdebstrap exited {p.returncode} (Debian's package mirror {DEBIAN_MIRROR} reachable? "
                       f"DEVLAB_DEBIAN_MIRROR picks another):\n{p.stderr[-3000:]}")
        os.rename(tmp, tar)
        log(f"rootfs {os.path.relpath(tar, ROOT)} ({os.path.getsize(tar) / 2**20:.0f} MiB) "
            f"in {time.monotonic() - t0:.0f} s")
    if image_label(ROOTFS_IMAGE, "io.flinkfn.devlab.rootfs") != key:
        log(f"importing {ROOTFS_IMAGE}")
        podman("import", "--change", f"LABEL io.flinkfn.devlab.rootfs={key}", "--change", "CMD [\"/bin/bash\"]",
               tar, ROOTFS_IMAGE)
    return key


def _copy_tree(src, dst):
    """src into dst with symlinks resolved (an image holds the files)."""
    shutil.copytree(src, dst, symlinks=False)


def build(args, tag, what):
    t0 = time.monotonic()
    log(f"building {tag} ({what})")
    p = podman("build", "--timestamp", str(EPOCH), "--label", f"{LABEL}=image", "-t", tag, *args,
               capture=True, check=False)
    if p.returncode != 0:
        raise Fail(f"podman build of {tag} exited {p.returncode}:\n{(p.stdout + p.stderr)[-4000:]}")
    log(f"built {tag} in {time.monotonic() - t0:.0f} s")


def flinkbase(ver, rootfs_key):
    import devlab_local
    home, fver = devlab_local.build_flink_home()
    if fver != ver:
        raise Fail(f"PyFlink in .cache/venv is Flink {fver}, scripts/setup/pyflink-version says {ver}: run scripts/setup/setup.sh")
    tag = f"localhost/flinkfn-devlab-flinkbase:{ver}"
    key = _digest(rootfs_key, open(os.path.join(PODMAN_DIR, "base.Containerfile"), "rb").read(),
                  open(os.path.join(PODMAN_DIR, "docker-entrypoint.sh"), "rb").read(), home, ver)
    if image_label(tag, "io.flinkfn.devlab.key") == key:
        return tag
    ctx = os.path.join(CACHE, "base-ctx")
    shutil.rmtree(ctx, ignore_errors=True)
    os.makedirs(ctx)
    _copy_tree(home, os.path.join(ctx, "flink"))
    for junk in (".devlab-stamp",):
        try:
            os.remove(os.path.join(ctx, "flink", junk))
        except OSError:
            pass
    shutil.copy2(os.path.join(PODMAN_DIR, "docker-entrypoint.sh"), ctx)
    build(["-f", os.path.join(PODMAN_DIR, "base.Containerfile"), "--build-arg", f"ROOTFS={ROOTFS_IMAGE}",
           "--label", f"io.flinkfn.devlab.key={key}", ctx], tag, "Debian's JDK 17 + Flink from PyPI's apache-flink")
    shutil.rmtree(ctx, ignore_errors=True)
    return tag


def dist(ver):
    """flinkfn, ONNX Runtime and the model as built/installed here."""
    tag = f"localhost/flinkfn-devlab-dist:{ver}"
    src = {"bin/flinkfn": os.path.join(ROOT, ".cache", "bin", "flinkfn"),
           "lib/libonnxruntime.so": os.path.join(ROOT, ".cache", "lib", "libonnxruntime.so"),
           f"models/{MODEL}": os.path.join(ROOT, ".cache", "models", MODEL)}
    for rel, path in src.items():
        if not os.path.exists(path):
            raise Fail(f"{path} missing: run `make build` and scripts/setup/setup.sh (they install {rel})")
    ctx = os.path.join(CACHE, "dist-ctx")
    shutil.rmtree(ctx, ignore_errors=True)
    out = os.path.join(ctx, "out", "flinkfn")
    for rel, path in src.items():
        dst = os.path.join(out, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.isdir(path):
            _copy_tree(path, dst)
        else:
            shutil.copy2(path, dst)
    build(["-f", os.path.join(PODMAN_DIR, "dist.Containerfile"), ctx], tag, "flinkfn as built here")
    shutil.rmtree(ctx, ignore_errors=True)
    return tag


def wheels(ver):
    """PyFlink and its dependencies as wheels for the base image's Python,
    from PyPI, cached: `pip wheel` here (sdists such as crcmod become
    wheels), then `pip download` for the image's exact Python version, whose
    markers may ask for more (Debian's 3.11.2 needs async-timeout for redis,
    3.11.7 does not)."""
    pyver = podman("run", "--rm", ROOTFS_IMAGE, "python3", "-c",
                   "import platform; print(platform.python_version())").stdout.strip()
    d = os.path.join(CACHE, "wheels", f"{ver}-py{pyver}")
    stamp = os.path.join(d, ".complete")
    if os.path.exists(stamp):
        return d
    log(f"wheels for apache-flink=={ver} (Python {pyver}) into {os.path.relpath(d, ROOT)} (PyPI)")
    os.makedirs(d, exist_ok=True)
    py = os.path.join(ROOT, ".cache", "venv", "bin", "python")
    env = dict(os.environ)
    env.pop("PIP_FIND_LINKS", None)
    subprocess.run([py, "-m", "pip", "wheel", "-q", "-w", d, f"apache-flink=={ver}"], check=True, env=env)
    # What the image's Python still misses (markers on its exact version):
    # resolve there, offline, and fetch each missing requirement here.
    for _ in range(10):
        p = podman("run", "--rm", "--network", "none", "-v", f"{d}:/wheels:ro", ROOTFS_IMAGE, "sh", "-c",
                   "python3 -m venv /tmp/v && /tmp/v/bin/pip install -q --dry-run --no-index "
                   f"--find-links /wheels apache-flink=={ver}", check=False)
        if p.returncode == 0:
            break
        m = re.search(r"No matching distribution found for ([^;\s]+)", p.stderr + p.stdout)
        if not m:
            raise Fail(f"pip cannot install apache-flink=={ver} from {d} in the image:\n{p.stderr[-2000:]}")
        log(f"the image's Python {pyver} also needs {m.group(1)}")
        subprocess.run([py, "-m", "pip", "wheel", "-q", "-w", d, m.group(1)], check=True, env=env)
    else:
        raise Fail(f"wheels for apache-flink=={ver} still incomplete for Python {pyver} after 10 rounds")
    open(stamp, "w").close()
    return d


def images(_a=None):
    setup()
    ver = flink_version()
    t0 = time.monotonic()
    key = rootfs()
    base = flinkbase(ver, key)
    dist_tag = dist(ver)
    whl = wheels(ver)
    c = compose()
    targets = {}
    for svc in c["services"].values():
        b = svc.get("build") or {}
        if b.get("target"):
            targets[b["target"]] = svc["image"]
    common = ["-f", os.path.join(ROOT, "devlab", "Dockerfile"),
              "--ignorefile", os.path.join(ROOT, "devlab", "Dockerfile.dockerignore"),
              "--build-arg", f"FLINK_VERSION={ver}", "--build-arg", f"FLINK_IMAGE={base}",
              "--build-arg", f"FLINKFN_DIST={dist_tag}"]
    build([*common, "--target", "flink", ROOT], targets["flink"], "devlab/Dockerfile, target flink")
    build([*common, "--target", "client", "-v", f"{whl}:/wheels:ro", "--build-arg", "PIP_WHEELS=/wheels", ROOT],
          targets["client"], "devlab/Dockerfile, target client")
    log(f"images built in {time.monotonic() - t0:.0f} s; sizes:")
    for ref in (ROOTFS_IMAGE, base, dist_tag, targets["flink"], targets["client"]):
        size = int(podman("image", "inspect", "--format", "{{.Size}}", ref).stdout.strip())
        print(f"    {ref:45s} {size / 1e6:8.1f} MB", flush=True)
    return 0


# ---------------------------------------------------------------- the cluster

def mem_bytes(s):
    m = re.fullmatch(r"(?i)\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", str(s))
    if not m:
        raise Fail(f"cannot read memory size {s!r}")
    return int(float(m.group(1)) * 1024 ** " kmgt".index((m.group(2) or " ").lower()))


def seconds(s):
    m = re.fullmatch(r"(\d+)(ms|s|m)?", str(s))
    return int(m.group(1)) * {"s": 1, "m": 60, None: 1}.get(m.group(2), 1) if m else 10


class Cluster:
    def __init__(self, taskmanagers=None, overrides=None):
        self.c = compose()
        self.project = self.c["name"]
        self.network = f"{self.project}_default"
        tm = self.c["services"]["taskmanager"]
        self.n = taskmanagers or int(((tm.get("deploy") or {}).get("replicas")) or 1)
        self.overrides = overrides or {}

    def cname(self, svc, i=1):
        return f"{self.project}-{svc}-{i}"

    def volume(self, name):
        return f"{self.project}_{name}"

    def service(self, svc_name):
        """The compose service with this run's overrides: image, user,
        environment (None removes a variable), conf (a directory for
        ./conf), healthcheck, extra_args (appended to the command)."""
        svc = dict(self.c["services"][svc_name])
        o = self.overrides.get(svc_name, {})
        for k in ("image", "user", "healthcheck"):
            if k in o:
                svc[k] = o[k]
        env = dict(svc.get("environment") or {})
        for k, v in (o.get("environment") or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        svc["environment"] = env
        if o.get("conf"):
            svc["volumes"] = [f"{o['conf']}:{v.split(':', 2)[1]}:ro" if v.startswith("./conf:") else v
                              for v in svc.get("volumes") or []]
        if o.get("extra_args"):
            cmd = svc.get("command")
            svc["command"] = ([cmd] if isinstance(cmd, str) else list(cmd or [])) + list(o["extra_args"])
        return svc

    def run_args(self, svc_name, index=1, detach=True):
        svc = self.service(svc_name)
        args = ["run", "--name", self.cname(svc_name, index), "--label", f"{LABEL}={self.project}",
                "--label", f"{LABEL}.service={svc_name}", "--network", self.network,
                "--network-alias", svc_name, "--hostname", self.cname(svc_name, index)]
        if detach:
            args.append("-d")
        if svc.get("user"):
            args += ["--user", str(svc["user"])]
        lim = (((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}).get("memory")
        if lim:
            # no swap: the limit is the memory the container has
            args += ["--memory", str(mem_bytes(lim)), "--memory-swap", str(mem_bytes(lim))]
        if svc.get("stop_grace_period"):
            args += ["--stop-timeout", str(seconds(svc["stop_grace_period"]))]
        for k, v in svc["environment"].items():
            v = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: os.environ.get(m.group(1), m.group(2)), str(v))
            args += ["-e", f"{k}={v}"]
        for v in svc.get("volumes") or []:
            src, dst, *mode = v.split(":")
            if src.startswith("."):
                src = os.path.normpath(os.path.join(os.path.dirname(COMPOSE), src))
            elif not src.startswith("/"):
                src = self.volume(src)
            args += ["-v", ":".join([src, dst, *mode])]
        for p in svc.get("ports") or []:
            cport = str(p).split(":")[-1]
            args += ["-p", f"127.0.0.1::{cport}"]
        args += self.overrides.get(svc_name, {}).get("run_args", [])
        args.append(svc["image"])
        cmd = svc.get("command")
        if cmd:
            args += [cmd] if isinstance(cmd, str) else list(cmd)
        return args

    def health(self, svc_name, index=1):
        test = (self.service(svc_name).get("healthcheck") or {}).get("test")
        if not test:
            return True
        cmd = test[1:] if test[0] == "CMD" else ["sh", "-c", test[1]]
        return podman("exec", self.cname(svc_name, index), *cmd, check=False).returncode == 0

    def state(self, name):
        p = podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}", name,
                   check=False)
        return p.stdout.strip() if p.returncode == 0 else "absent"

    def wait_healthy(self, svc_name, index=1, timeout=240):
        name = self.cname(svc_name, index)
        t0 = time.monotonic()
        while not self.health(svc_name, index):
            st = self.state(name)
            if not st.startswith("running"):
                raise Fail(f"{name} is {st} before it was healthy; its log:\n{self.logs(name)}")
            if time.monotonic() - t0 > timeout:
                raise Fail(f"{name} not healthy after {timeout} s; its log:\n{self.logs(name)}")
            time.sleep(1)
        log(f"{name} healthy after {time.monotonic() - t0:.0f} s")

    def logs(self, name, n=40):
        p = podman("logs", "--tail", str(n), name, check=False)
        return (p.stdout + p.stderr).strip()

    def port(self, svc_name, cport, index=1):
        out = podman("port", self.cname(svc_name, index), str(cport)).stdout.strip().splitlines()[0]
        return out.rsplit(":", 1)[-1]

    def rest(self):
        return f"http://127.0.0.1:{self.port('jobmanager', 8081)}"

    def rest_get(self, path):
        with urllib.request.urlopen(self.rest() + path, timeout=10) as r:
            return json.loads(r.read().decode())

    def up(self):
        self.down(quiet=True)
        t0 = time.monotonic()
        podman("network", "create", "--label", f"{LABEL}={self.project}", self.network)
        for v in self.c.get("volumes") or {}:
            podman("volume", "create", "--label", f"{LABEL}={self.project}", self.volume(v))
        podman(*self.run_args("jobmanager"))
        self.wait_healthy("jobmanager")
        for i in range(1, self.n + 1):
            podman(*self.run_args("taskmanager", i))
        for i in range(1, self.n + 1):
            self.wait_healthy("taskmanager", i)
        slots = self.n * int(self.flink_conf().get("taskmanager.numberOfTaskSlots", 1))
        t1 = time.monotonic()
        while True:
            ov = self.rest_get("/overview")
            if ov.get("slots-total", 0) >= slots:
                break
            if time.monotonic() - t1 > 300:
                raise Fail(f"Flink has {ov.get('slots-total')} of {slots} slots after 300 s")
            time.sleep(1)
        log(f"cluster up in {time.monotonic() - t0:.0f} s: JobManager, {self.n} TaskManagers, "
            f"{ov['slots-total']} slots; REST {self.rest()}")
        for i in range(1, self.n + 1):
            name = self.cname("taskmanager", i)
            lim = podman("inspect", "--format", "{{.HostConfig.Memory}}", name).stdout.strip()
            log(f"{name}: memory limit {int(lim) / 2**30:.2f} GiB (runtime), pool metrics "
                f"http://127.0.0.1:{self.port('taskmanager', 9250, i)}/metrics")

    def flink_conf(self):
        import yaml
        import devlab_job
        d = self.overrides.get("taskmanager", {}).get("conf") or os.path.join(ROOT, "devlab", "conf")
        with open(os.path.join(d, "config.yaml"), encoding="utf-8") as f:
            return devlab_job.flatten(yaml.safe_load(f))

    def containers(self):
        out = podman("ps", "-a", "--filter", f"label={LABEL}={self.project}", "--format", "{{.Names}}").stdout
        return out.split()

    def down(self, quiet=False):
        names = self.containers()
        if names:
            podman("rm", "-f", "-t", "20", *names, check=False)
        for v in self.c.get("volumes") or {}:
            podman("volume", "rm", "-f", self.volume(v), check=False)
        podman("network", "rm", "-f", self.network, check=False)
        if not quiet:
            log(f"down: removed {len(names)} containers, the volume and the network")

    # ------------------------------------------------------------ the job

    def start_job(self, extra=()):
        name = self.cname("job")
        podman("rm", "-f", name, check=False)
        args = self.run_args("job")
        return podman(*args, *extra)

    def job(self, timeout=1200, during=None):
        """Runs the job service; `during(cluster)` is called once rows are
        being written. Returns (exit status, output)."""
        # the previous run's output would count as rows written
        shutil.rmtree(os.path.join(self.data_dir(), "out"), ignore_errors=True)
        self.start_job()
        name = self.cname("job")
        t0 = time.monotonic()
        fired = during is None
        while True:
            st = self.state(name)
            if not st.startswith("running"):
                break
            if not fired and self._rows_written() > 0:
                fired = True
                try:
                    during(self)
                except Fail:
                    podman("rm", "-f", name, check=False)
                    raise
            if time.monotonic() - t0 > timeout:
                podman("kill", name, check=False)
                raise Fail(f"the job service still runs after {timeout} s")
            time.sleep(1)
        p = podman("logs", name, check=False)
        out = p.stdout + p.stderr
        rc = int(podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip())
        return rc, out

    def data_dir(self):
        return podman("volume", "inspect", "--format", "{{.Mountpoint}}", self.volume("data")).stdout.strip()

    def _rows_written(self):
        import demo
        return demo.count_lines(os.path.join(self.data_dir(), "out"))

    def spread(self, job_id):
        """TaskManagers that ran a subtask of the job (REST)."""
        tms = set()
        job = self.rest_get(f"/jobs/{job_id}")
        for v in job.get("vertices", []):
            d = self.rest_get(f"/jobs/{job_id}/vertices/{v['id']}/taskmanagers")
            for tm in d.get("taskmanagers", []):
                tms.add(tm.get("taskmanager-id") or tm.get("host"))
        return tms


def check_job_output(cl, rc, out):
    """The job service's own checks (rc) + one session and one model load per pool."""
    print(out.rstrip(), flush=True)
    problems = []
    if rc != 0:
        problems.append(f"the job service exited {rc}")
    pools = re.findall(r"flinkfn pool metrics \((http://[^)]+)\)", out)
    sessions = re.findall(r"sessions\s+started (\d+)", out)
    if len(pools) != cl.n:
        problems.append(f"metrics of {len(pools)} pools, want {cl.n} (one per TaskManager)")
    idle = [p for p, s in zip(pools, sessions) if int(s) == 0]
    if idle:
        problems.append(f"pools that served no session: {', '.join(idle)}")
    m = re.findall(r"job ([0-9a-f]{32}) FINISHED", out)
    if m:
        tms = cl.spread(m[-1])
        log(f"job {m[-1]}: subtasks on {len(tms)} TaskManagers ({', '.join(sorted(map(str, tms)))})")
        if len(tms) < min(cl.n, 2):
            problems.append(f"the job's subtasks ran on {len(tms)} TaskManager(s), want every one of {cl.n}")
    return problems


def cmd_up(a):
    setup()
    Cluster(a.taskmanagers).up()
    return 0


def cmd_job(a):
    cl = Cluster(a.taskmanagers)
    rc, out = cl.job()
    problems = check_job_output(cl, rc, out)
    for p in problems:
        log(f"FAIL: {p}")
    if not problems:
        log(f"OK: the job on {cl.n} TaskManagers: output verified, one model load and sessions in every pool, "
            "subtasks on every TaskManager")
    return 1 if problems else 0


def busy_tm(cl):
    """Index of the TaskManager container running the job's transactions
    pipeline (the long one) now, from the JobManager's REST API."""
    logs = podman("logs", cl.cname("job"), check=False)
    m = re.findall(r"submitted job ([0-9a-f]{32})", logs.stdout + logs.stderr)
    if not m:
        raise Fail("the job service has not logged a job id")
    ips = {}
    for i in range(1, cl.n + 1):
        ip = podman("inspect", "--format", f"{{{{(index .NetworkSettings.Networks \"{cl.network}\").IPAddress}}}}",
                    cl.cname("taskmanager", i)).stdout.strip()
        ips[ip] = i
    job = cl.rest_get(f"/jobs/{m[-1]}")
    found = []
    for v in job.get("vertices", []):
        if v.get("status") != "RUNNING":
            continue
        d = cl.rest_get(f"/jobs/{m[-1]}/vertices/{v['id']}/taskmanagers")
        for tm in d.get("taskmanagers", []):
            if tm.get("status") != "RUNNING":
                continue
            host = str(tm.get("host") or tm.get("endpoint") or "").split(":")[0]
            idx = ips.get(host)
            if idx is None:
                idx = next((i for ip, i in ips.items() if ip and ip in str(tm)), None)
            if idx is not None:
                found.append(("transactions" in v.get("name", "").lower(), idx))
    if not found:
        raise Fail(f"no running subtask of job {m[-1]} on a TaskManager container (IPs {ips})")
    return max(found)[1]


def kill_tm(cl, index=None):
    """`during` action: SIGKILL one TaskManager container (JVM and pool);
    by default the one running the transactions pipeline."""
    index = index or busy_tm(cl)
    name = cl.cname("taskmanager", index)
    log(f"FAULT: killing container {name} mid-job (podman kill -s KILL)")
    podman("kill", "-s", "KILL", name)
    return time.time()


def kill_pool(cl, index=None):
    """`during` action: SIGKILL the flinkfn pool process inside one
    TaskManager container (its entry point then stops the TaskManager); by
    default the one serving the transactions pipeline."""
    index = index or busy_tm(cl)
    name = cl.cname("taskmanager", index)
    pid = podman("exec", name, "pgrep", "-o", "-f", "flinkfn pool").stdout.strip()
    if not pid:
        raise Fail(f"no `flinkfn pool` process in {name}")
    log(f"FAULT: killing the flinkfn pool (pid {pid} in {name}) mid-job")
    podman("exec", name, "kill", "-KILL", pid)
    return time.time()


def restarts(cl, out):
    m = re.findall(r"job ([0-9a-f]{32}) FINISHED", out)
    if not m:
        return None
    try:
        ex = cl.rest_get(f"/jobs/{m[-1]}/exceptions")
    except (urllib.error.URLError, OSError):
        return None
    entries = (ex.get("exceptionHistory") or {}).get("entries") or []
    return [(e.get("exceptionName"), e.get("taskManagerId") or "") for e in entries]


def fault_run(cl, what, action):
    t0 = time.monotonic()
    events = {}

    def during(c):
        events["at"] = time.monotonic() - t0
        action(c)

    rc, out = cl.job(during=during)
    problems = []
    if rc != 0:
        problems.append(f"the job service exited {rc} after {what}")
    if "at" not in events:
        problems.append(f"the job ended before any row was written: {what} never happened")
    ok = re.search(r"OK: row counts", out) is not None
    if not ok:
        problems.append(f"the output did not verify after {what}")
    rs = restarts(cl, out) or []
    tail = [ln for ln in out.splitlines() if re.search(r"FINISHED|output:|checked against|FAIL|OK:", ln)]
    log(f"{what}: after {events.get('at', 0):.0f} s of the job; job service exit {rc}; "
        f"{len(rs)} failure(s) in Flink's exception history: {[r[0] for r in rs]}")
    for ln in tail:
        print(f"    {ln}", flush=True)
    if not rs and "at" in events:
        problems.append(f"Flink recorded no failure after {what}: did the fault hit a running task?")
    return problems


def cmd_faults(a):
    """Two faults on a running cluster; the killed container is started again
    (as compose's `restart: on-failure` would) before the next."""
    cl = Cluster(a.taskmanagers)
    problems = []
    for what, action in (("a TaskManager container killed", kill_tm),
                         ("a TaskManager's pool killed", kill_pool)):
        problems += fault_run(cl, what, action)
        for i in range(1, cl.n + 1):
            name = cl.cname("taskmanager", i)
            if not cl.state(name).startswith("running"):
                log(f"{name} is {cl.state(name)}: starting it again")
                podman("start", name)
                cl.wait_healthy("taskmanager", i)
    for p in problems:
        log(f"FAIL: {p}")
    if not problems:
        log("OK: after each fault Flink restarted the failed tasks and the output is complete, exactly once")
    return 1 if problems else 0


# ---------------------------------------------------------------- OOM

# The user's seed configuration (shared seed 000): a 12 GB TaskManager with 6
# slots, 4gb task off-heap "for the model", 2gb managed, the stock PyFlink
# worker. Scaled to the compose TaskManager limit: every size times
# limit / 12 GiB, the 6 slots kept (the pain is 6 slots' Python workers, each
# loading its own model, outside anything Flink reserves).
SEED_SLOTS = 6
SEED = {"taskmanager.memory.process.size": 12 << 30,
        "taskmanager.memory.task.off-heap.size": 4 << 30,
        "taskmanager.memory.managed.size": 2 << 30,
        "taskmanager.memory.jvm-overhead.min": 512 << 20,
        "taskmanager.memory.jvm-overhead.max": 2 << 30,
        "taskmanager.memory.network.min": 256 << 20,
        "taskmanager.memory.network.max": 512 << 20}
REF_VENV = os.path.join(ROOT, ".cache", "ref-venv")


def write_conf(name, updates, drop=()):
    """devlab/conf/config.yaml flattened, with updates; returns its directory."""
    import yaml
    import devlab_job
    with open(os.path.join(ROOT, "devlab", "conf", "config.yaml"), encoding="utf-8") as f:
        conf = devlab_job.flatten(yaml.safe_load(f))
    for k in drop:
        conf.pop(k, None)
    conf.update(updates)
    d = os.path.join(CACHE, f"conf-{name}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.yaml"), "w", encoding="utf-8") as f:
        f.write(f"# devlab/conf/config.yaml for the {name} run (scripts/devlab/devlab_podman.py oom)\n")
        yaml.safe_dump({k: conf[k] for k in sorted(conf)}, f, default_flow_style=False, width=1 << 16)
    return d


def seed_scaled(limit):
    f = limit / SEED["taskmanager.memory.process.size"]
    return {k: f"{int(v * f) >> 20}m" for k, v in SEED.items()}


def plan_managed(conf_dir):
    """`flinkfn plan`'s managed size for pool mode with conf_dir's slots (model measured)."""
    p = subprocess.run([os.path.join(ROOT, ".cache", "bin", "flinkfn"), "plan", "--config",
                        os.path.join(conf_dir, "config.yaml"), "--compose", COMPOSE, "--service", "taskmanager",
                        "--mode", "pool", "--sessions-per-slot", "2", "--model",
                        os.path.join(ROOT, ".cache", "models", MODEL), "--measure", "--headroom", "1.15"],
                       capture_output=True, text=True)
    m = re.search(r"Recommended settings.*?managed\.size:\s*(\S+)", p.stdout, re.S)
    if not m:
        raise Fail(f"flinkfn plan gave no managed size (exit {p.returncode}):\n{(p.stdout + p.stderr)[-3000:]}")
    need = re.search(r"Verdict \(flinkfn pool\): (.*)", p.stdout)
    log(f"flinkfn plan for {SEED_SLOTS} slots recommends managed.size {m.group(1)} (on devlab's 4-slot sizing it says: "
        f"{need.group(1) if need else '?'})")
    return m.group(1)


class MemWatch:
    """Samples each TaskManager container's memory cgroup (v1: usage,
    max_usage, oom_control's oom_kill) and the kernel log every second."""

    def __init__(self, cl):
        import threading
        self.cl = cl
        self.t0 = time.monotonic()
        self.events = []
        self.peak = {}
        self.kills = {}
        self.stop = threading.Event()
        self.dmesg0 = self._dmesg_lines()
        self.th = threading.Thread(target=self._loop, daemon=True)
        self.th.start()

    @staticmethod
    def _dmesg_lines():
        p = subprocess.run(["dmesg"], capture_output=True, text=True)
        return p.stdout.splitlines() if p.returncode == 0 else []

    def cgroup(self, name):
        pid = podman("inspect", "--format", "{{.State.Pid}}", name, check=False).stdout.strip()
        try:
            with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
                for ln in f:
                    _, ctl, path = ln.strip().split(":", 2)
                    if "memory" in ctl.split(","):
                        return "/sys/fs/cgroup/memory" + path
        except (OSError, ValueError):
            return None
        return None

    def _loop(self):
        paths = {}
        while not self.stop.is_set():
            for i in range(1, self.cl.n + 1):
                name = self.cl.cname("taskmanager", i)
                if name not in paths or paths[name] is None:
                    paths[name] = self.cgroup(name)
                cg = paths[name]
                if not cg:
                    continue
                try:
                    use = int(open(os.path.join(cg, "memory.usage_in_bytes")).read())
                    oc = dict(ln.split() for ln in open(os.path.join(cg, "memory.oom_control")))
                except (OSError, ValueError):
                    paths[name] = None
                    continue
                self.peak[name] = max(self.peak.get(name, 0), use)
                k = int(oc.get("oom_kill", 0))
                if k > self.kills.get(name, 0):
                    self.event(f"{name}: kernel OOM kill #{k} in the container's memory cgroup "
                               f"(usage {use / 2**20:,.0f} MiB)")
                    self.kills[name] = k
            time.sleep(1)

    def event(self, what):
        self.events.append((time.monotonic() - self.t0, what))
        log(f"t+{time.monotonic() - self.t0:5.0f} s  {what}")

    def close(self):
        self.stop.set()
        self.th.join(5)
        new = [ln for ln in self._dmesg_lines() if ln not in set(self.dmesg0)]
        return [ln for ln in new if re.search(r"out of memory|Killed process|oom-kill", ln, re.I)]


def oom_run(cl, label, timeout):
    """One run of the split job on a fresh cluster; returns a summary dict."""
    res = {"label": label}
    try:
        cl.up()
        watch = MemWatch(cl)
        cl.start_job()
        name = cl.cname("job")
        t0 = time.monotonic()
        while cl.state(name).startswith("running"):
            for i in range(1, cl.n + 1):
                st = cl.state(cl.cname("taskmanager", i))
                if not st.startswith("running") and f"tm{i}" not in res:
                    res[f"tm{i}"] = st
                    watch.event(f"{cl.cname('taskmanager', i)} is {st} (status, exit code, OOMKilled)")
            if sum(watch.kills.values()) and time.monotonic() - watch.events[0][0] - watch.t0 > 90:
                watch.event("OOM kills seen 90 s ago: stopping the job")
                podman("kill", name, check=False)
                break
            if time.monotonic() - t0 > timeout:
                watch.event(f"job still running after {timeout} s: stopping it")
                podman("kill", name, check=False)
                break
            time.sleep(1)
        res["wall"] = time.monotonic() - t0
        out = podman("logs", name, check=False)
        res["out"] = out.stdout + out.stderr
        res["rc"] = int(podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() or -1)
        res["kernel"] = watch.close()
        res["events"] = watch.events
        res["peak"] = dict(watch.peak)
        res["kills"] = dict(watch.kills)
        m = re.findall(r"submitted job ([0-9a-f]{32})", res["out"])
        if m:
            try:
                entries = (cl.rest_get(f"/jobs/{m[-1]}/exceptions").get("exceptionHistory") or {}).get("entries")
                res["exceptions"] = [(e.get("exceptionName"),
                                      ((e.get("stacktrace") or e.get("exception") or "").splitlines() or [""])[0][:300])
                                     for e in entries or []]
                res["state"] = cl.rest_get(f"/jobs/{m[-1]}").get("state")
            except (urllib.error.URLError, OSError, ValueError) as ex:
                log(f"cannot read job {m[-1]}'s exceptions: {ex}")
    finally:
        cl.down(quiet=True)
    return res


def report(res, limit):
    log(f"== {res['label']}: job service exit {res.get('rc')}, job {res.get('state', '?')}, "
        f"{res.get('wall', 0):.0f} s")
    for name, peak in sorted(res.get("peak", {}).items()):
        print(f"    {name}: peak cgroup usage {peak / 2**20:,.0f} MiB of the {limit / 2**20:,.0f} MiB limit; "
              f"OOM kills {res['kills'].get(name, 0)}", flush=True)
    for t, what in res.get("events", []):
        print(f"    t+{t:.0f} s: {what}", flush=True)
    for ln in res.get("kernel", [])[:12]:
        print(f"    kernel: {ln}", flush=True)
    for name, ex in (res.get("exceptions") or [])[:5]:
        print(f"    Flink: {name}: {ex}", flush=True)
    for ln in res.get("out", "").splitlines():
        if re.search(r"FINISHED:|output:|checked against|FAIL|OK:|model loads|sessions ", ln):
            print(f"    {ln.strip()}", flush=True)


def cmd_oom(a):
    """The seed's settings with the stock PyFlink worker until the kernel kills
    it, then flinkfn pool with flinkfn plan's settings, same limits and job."""
    if not os.path.exists(os.path.join(REF_VENV, "bin", "python")):
        raise Fail(f"{REF_VENV} missing: the stock worker's environment (PyTorch, sentence-transformers) "
                   "comes from `make ref-venv` (scripts/setup/ref_venv.sh)")
    setup()
    base = Cluster(a.taskmanagers)
    tm = base.c["services"]["taskmanager"]
    limit = mem_bytes(tm["deploy"]["resources"]["limits"]["memory"])
    par = SEED_SLOTS * base.n
    common = {"taskmanager.numberOfTaskSlots": SEED_SLOTS, "parallelism.default": par,
              "restart-strategy.fixed-delay.attempts": 2}
    job_env = {"DEVLAB_SPLIT": str(par), "DEVLAB_ACCOUNTHOLDERS": os.environ.get("DEVLAB_ACCOUNTHOLDERS", "600"),
               "DEVLAB_TRANSACTIONS": os.environ.get("DEVLAB_TRANSACTIONS", "6000")}
    results = {}
    runs = a.runs.split(",")
    # 1. stock PyFlink worker, the seed's settings scaled
    stock_conf = write_conf("stock", {**common, **seed_scaled(limit),
                                      "python.executable": os.path.join(REF_VENV, "bin", "python")})
    pyhome = os.path.realpath(os.path.join(REF_VENV, "bin", "python"))
    pyhome = os.path.dirname(os.path.dirname(pyhome))
    if "stock" in runs:
        log(f"stock run: {base.n} TaskManagers x {SEED_SLOTS} slots, limit {limit / 2**30:.2f} GiB each, the seed's "
            f"settings scaled ({', '.join(f'{k.split(chr(46), 2)[-1]}={v}' for k, v in seed_scaled(limit).items())}), "
            f"python.executable {REF_VENV}/bin/python (mounted), parallelism {par}")
    stock = Cluster(a.taskmanagers, {
        "jobmanager": {"conf": stock_conf},
        "taskmanager": {"conf": stock_conf, "image": base.c["services"]["job"]["image"], "user": "0",
                        "healthcheck": None,
                        "environment": {"FLINKFN_POOL": None, "FLINKFN_POOL_HTTP": None,
                                        "FLINKFN_POOL_MEMORY_LIMIT": None, "OMP_NUM_THREADS": "1"},
                        "run_args": ["-v", f"{REF_VENV}:{REF_VENV}:ro", "-v", f"{pyhome}:{pyhome}:ro"]},
        "job": {"conf": stock_conf, "environment": job_env}})
    if "stock" in runs:
        results["stock"] = oom_run(stock, "stock PyFlink worker, the seed's settings scaled to the container",
                                   a.timeout)
    # 2. flinkfn pool, flinkfn plan's settings
    tmp_conf = write_conf("pool", {**common})
    managed = plan_managed(tmp_conf)
    pool_conf = write_conf("pool", {**common, "taskmanager.memory.managed.size": managed,
                                    "taskmanager.memory.task.off-heap.size": "0m"})
    pool = Cluster(a.taskmanagers, {
        "jobmanager": {"conf": pool_conf},
        "taskmanager": {"conf": pool_conf, "environment": {"FLINKFN_POOL_MEMORY_LIMIT": managed}},
        "job": {"conf": pool_conf, "environment": job_env}})
    if "pool" in runs:
        results["pool"] = oom_run(pool, f"flinkfn pool, flinkfn plan's settings (managed.size {managed})",
                                  a.timeout)
    for r in results.values():
        report(r, limit)
    ok = True
    if "stock" in results and not sum(results["stock"].get("kills", {}).values()):
        log("NOTE: the stock run saw no OOM kill in the containers' memory cgroups")
    if "pool" in results and (results["pool"].get("rc") != 0 or sum(results["pool"].get("kills", {}).values())):
        log("FAIL: the pool run did not complete cleanly under the same limits")
        ok = False
    return 0 if ok else 1


def cmd_test(a):
    """make devlab-container-test: images, up, job, faults, down; timed.
    DEVLAB_CONTAINER_OOM=1 adds the OOM demonstration (about 20 minutes more,
    and make ref-venv's PyTorch)."""
    t0 = time.monotonic()
    times = {}
    rc = 0
    try:
        images()
        times["images"] = time.monotonic() - t0
        t = time.monotonic()
        cmd_up(a)
        times["up"] = time.monotonic() - t
        t = time.monotonic()
        rc = cmd_job(a)
        times["job"] = time.monotonic() - t
        if rc == 0:
            t = time.monotonic()
            rc = cmd_faults(a)
            times["faults"] = time.monotonic() - t
    finally:
        t = time.monotonic()
        cmd_down(a)
        times["down"] = time.monotonic() - t
    if rc == 0 and os.environ.get("DEVLAB_CONTAINER_OOM") == "1":
        t = time.monotonic()
        rc = cmd_oom(a)
        times["oom"] = time.monotonic() - t
    log("durations: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items())
        + f"; total {time.monotonic() - t0:.0f} s")
    return rc


def cmd_down(a):
    Cluster(a.taskmanagers).down()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("command", choices=["setup", "images", "up", "job", "down", "faults", "oom", "test"])
    ap.add_argument("--taskmanagers", type=int, help="TaskManager containers (default: compose's deploy.replicas)")
    ap.add_argument("--timeout", type=int, default=900, help="oom: seconds a run's job may take")
    ap.add_argument("--runs", default="stock,pool", help="oom: which runs (stock, pool or both)")
    a = ap.parse_args()
    fn = {"setup": lambda _a: setup() or 0, "images": images, "up": cmd_up, "job": cmd_job, "down": cmd_down,
          "faults": cmd_faults, "test": cmd_test, "oom": cmd_oom}
    try:
        return fn[a.command](a)
    except Fail as ex:
        log(f"FAIL: {ex}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
