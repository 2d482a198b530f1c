#!/usr/bin/env python3
"""devlab without docker: the compose topology as processes on this machine.

    make devlab-local
    .cache/venv/bin/python scripts/devlab/devlab_local.py [--accountholders N] [--transactions M] [--mode pool|process]

1. FLINK_HOME: a Flink 2.3.0 distribution under .cache/devlab/flink-<version>/
   built from the one inside PyPI's apache-flink (.cache/venv, installed by
   scripts/setup/setup.sh): bin/ copied, lib/ and opt/ jars linked, flink-python in
   lib/ (Python operators on the cluster's class path, as in the image), plus
   opt/flink-sql-gateway (the SQL client's embedded gateway, which the PyPI
   package lacks) from Maven Central, SHA-256 verified. Rebuilt only when the
   PyFlink version changes.
2. Configuration: devlab/conf/config.yaml (the compose cluster's, sized with
   flinkfn plan) with hosts, ports and paths made local: loopback addresses,
   free ports picked now, python.executable = .cache/bin/flinkfn; written to
   .cache/devlab/run/conf/config.yaml. Memory and slots are the compose ones.
3. Starts, each in its own process group, with logs in .cache/devlab/run/log/:
   the flinkfn pool (pool mode: `flinkfn pool --listen unix://SOCKET --http
   127.0.0.1:PORT --flink-conf ...`, waits for /readyz), the JobManager and the
   TaskManager (`bin/jobmanager.sh|taskmanager.sh start-foreground`; the
   TaskManager's environment has FLINKFN_POOL=unix://SOCKET, so the flinkfn
   worker Flink starts hands its session to the pool). Waits until the
   TaskManager's slots are registered.
4. Runs the job (scripts/devlab/devlab_job.py: the main job's SQL through Flink's SQL
   client, waits over REST, verifies row counts, 384-float vectors and the
   golden rows, prints the pool's metrics summary and checks one model load
   and at least one session).
5. Always shuts everything down (try/finally, and SIGINT/SIGTERM/SIGHUP turned
   into the same path): TaskManager, JobManager, then the pool (SIGTERM:
   drain, exit 0), then looks for any process still carrying this run's
   marker in its environment (DEVLAB_RUN=<id>, inherited by every child:
   Flink's Python workers, the SQL client's Python) and fails if one is left.
   Processes of an earlier run that was killed outright are stopped first.

--mode process (or DEVLAB_MODE=process) runs without the pool: every worker
Flink starts loads its own model (flinkfn's PROCESS mode). Sizes: --accountholders/
--transactions or DEVLAB_ACCOUNTHOLDERS/DEVLAB_TRANSACTIONS (default 500 and
5,000 for CI; 10000 and 100000 is the demo's full size).
"""

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: flinkfn_scripts
import flinkfn_scripts as fs  # noqa: E402

ROOT = fs.ROOT

import devlab_job  # noqa: E402
import soak  # noqa: E402

CACHE = os.path.join(ROOT, ".cache", "devlab")
RUN = os.path.join(CACHE, "run")
FLINKFN = os.path.join(ROOT, ".cache", "bin", "flinkfn")
DEVLAB_CONF = os.path.join(ROOT, "devlab", "conf", "config.yaml")
MARK = "DEVLAB_RUN"
MARK_ROOT = "DEVLAB_ROOT"


log = fs.logger("devlab-local")


class Stop(Exception):
    """A signal asked us to stop."""


# ---------------------------------------------------------------- the distribution

def pyflink_dir():
    import pyflink
    return os.path.dirname(os.path.abspath(pyflink.__file__))


def flink_version(pf):
    jars = glob.glob(os.path.join(pf, "lib", "flink-dist-*.jar"))
    if not jars:
        raise RuntimeError(f"no flink-dist jar in {pf}/lib: is apache-flink installed (scripts/setup/setup.sh)?")
    return os.path.basename(jars[0])[len("flink-dist-"):-len(".jar")]


# The SQL client's embedded gateway (org.apache.flink.table.gateway.*): in the
# binary distribution's opt/, not in PyPI's apache-flink. From Maven Central,
# SHA-256 pinned per Flink version (the jar the distribution ships).
SQL_GATEWAY_SHA256 = {
    "2.3.0": "aad296a152dc367ddd70727f5a57dd61958cff3d8dceb1f947bf8d9705c8d724",
}


def sql_gateway_jar(ver):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "setup"))
    import fetch_artifacts  # scripts/setup/
    if ver not in SQL_GATEWAY_SHA256:
        raise RuntimeError(f"no pinned flink-sql-gateway SHA-256 for Flink {ver}: add it to SQL_GATEWAY_SHA256 "
                           f"in {os.path.relpath(__file__, ROOT)}")
    try:
        return fetch_artifacts.fetch_jar(f"org.apache.flink:flink-sql-gateway:{ver}", SQL_GATEWAY_SHA256[ver],
                                         os.path.join(CACHE, "downloads"))
    except SystemExit as ex:
        raise RuntimeError(str(ex))


def build_flink_home():
    """A Flink distribution from PyFlink's bin/lib/opt/conf (plus the SQL
    gateway jar); idempotent."""
    pf = pyflink_dir()
    ver = flink_version(pf)
    home = os.path.join(CACHE, f"flink-{ver}")
    stamp = os.path.join(home, ".devlab-stamp")
    want = json.dumps({"pyflink": pf, "version": ver, "layout": 2})
    if os.path.exists(stamp) and open(stamp, encoding="utf-8").read() == want:
        return home, ver
    log(f"building FLINK_HOME {home} from {pf} (Flink {ver}, PyPI apache-flink)")
    tmp = home + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for d in ("bin", "lib", "opt", "plugins", "conf", "log"):
        os.makedirs(os.path.join(tmp, d))
    # bin/ is copied: the scripts locate FLINK_HOME from their own (symlink-resolved) path.
    for f in glob.glob(os.path.join(pf, "bin", "*")):
        shutil.copy2(f, os.path.join(tmp, "bin"))
    for sub in ("lib", "opt"):
        for f in glob.glob(os.path.join(pf, sub, "*.jar")):
            os.symlink(f, os.path.join(tmp, sub, os.path.basename(f)))
    for f in glob.glob(os.path.join(pf, "opt", "flink-python-*.jar")):
        os.symlink(f, os.path.join(tmp, "lib", os.path.basename(f)))
    gw = os.path.abspath(sql_gateway_jar(ver))
    os.symlink(gw, os.path.join(tmp, "opt", os.path.basename(gw)))
    for f in glob.glob(os.path.join(pf, "conf", "*")):
        if os.path.isfile(f):
            shutil.copy2(f, os.path.join(tmp, "conf"))
    with open(os.path.join(tmp, ".devlab-stamp"), "w", encoding="utf-8") as f:
        f.write(want)
    shutil.rmtree(home, ignore_errors=True)
    os.rename(tmp, home)
    return home, ver


# ---------------------------------------------------------------- configuration

# PROCESS mode (no pool, a development fallback): every worker Flink starts
# loads its own model inside its slot's share of managed memory; the compose
# sizing is for pool mode, so give the slots room for one model each.
PROCESS_MODE_MANAGED = "2400m"


def local_config(ports, conf_dir, tmp_dir, mode):
    """devlab/conf/config.yaml, flattened, with local hosts, ports and paths."""
    import yaml
    with open(DEVLAB_CONF, encoding="utf-8") as f:
        conf = devlab_job.flatten(yaml.safe_load(f))
    conf.update({
        "jobmanager.rpc.address": "localhost",
        "jobmanager.bind-host": "localhost",
        "jobmanager.rpc.port": ports["rpc"],
        "rest.address": "localhost",
        "rest.bind-address": "localhost",
        "rest.port": ports["rest"],
        "blob.server.port": "0",
        "taskmanager.host": "localhost",
        "taskmanager.bind-host": "localhost",
        "taskmanager.rpc.port": "0",
        "taskmanager.data.port": "0",
        "taskmanager.resource-id": "devlab-local-tm-1",
        "python.executable": FLINKFN,
        "io.tmp.dirs": tmp_dir,
        "web.tmpdir": tmp_dir,
        "env.pid.dir": tmp_dir,
    })
    # one TaskManager here (compose runs two): parallelism = its slots
    conf["parallelism.default"] = conf.get("taskmanager.numberOfTaskSlots", 1)
    if mode == "process":
        conf["taskmanager.memory.managed.size"] = PROCESS_MODE_MANAGED
    os.makedirs(conf_dir, exist_ok=True)
    with open(os.path.join(conf_dir, "config.yaml"), "w", encoding="utf-8") as f:
        f.write("# devlab/conf/config.yaml with local hosts, ports and paths (scripts/devlab/devlab_local.py)\n")
        yaml.safe_dump({k: conf[k] for k in sorted(conf)}, f, default_flow_style=False, width=1 << 16)
    return conf


# ---------------------------------------------------------------- processes

def marked_processes(key, value):
    """pids whose environment has key=value (our children and their children)."""
    needle = f"{key}={value}".encode()
    found = []
    for d in glob.glob("/proc/[0-9]*"):
        pid = int(os.path.basename(d))
        if pid == os.getpid():
            continue
        try:
            with open(os.path.join(d, "environ"), "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if needle in env:
            try:
                with open(os.path.join(d, "cmdline"), "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                cmd = "?"
            found.append((pid, cmd))
    return found


def kill_stale():
    """Processes an earlier run of this checkout left (it was killed outright)."""
    stale = marked_processes(MARK_ROOT, ROOT)
    for pid, cmd in stale:
        log(f"stopping pid {pid} left by an earlier run: {cmd[:150]}")
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if stale:
        time.sleep(1)


class Proc:
    def __init__(self, name, cmd, env, logfile):
        self.name = name
        self.log = logfile
        f = open(logfile, "wb")
        self.p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                  start_new_session=True, cwd=RUN)
        f.close()
        log(f"started {name} (pid {self.p.pid}), log {os.path.relpath(logfile, ROOT)}")

    def alive(self):
        return self.p.poll() is None

    def check(self):
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with status {self.p.returncode}; last lines of {self.log}:\n"
                               + tail(self.log))

    def stop(self, timeout):
        """SIGTERM to the process group, SIGKILL after timeout; returns the exit status."""
        if self.alive():
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop in {timeout} s: SIGKILL")
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.p.wait(10)
        # whatever else is left in its group (e.g. workers Flink started)
        try:
            os.killpg(self.p.pid, 0)
            log(f"{self.name} exited but processes of its group remain: SIGKILL")
            os.killpg(self.p.pid, signal.SIGKILL)
        except OSError:
            pass
        return self.p.returncode


def tail(path, n=30):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


def has_pool(binary):
    r = subprocess.run([binary, "pool", "--help"], capture_output=True, text=True)
    return r.returncode == 0 and "--listen" in (r.stdout + r.stderr)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--accountholders", type=int, default=int(os.environ.get("DEVLAB_ACCOUNTHOLDERS", "500")))
    ap.add_argument("--transactions", type=int, default=int(os.environ.get("DEVLAB_TRANSACTIONS", "5000")))
    ap.add_argument("--mode", choices=["pool", "process"], default=os.environ.get("DEVLAB_MODE", "pool"))
    ap.add_argument("--timeout", type=int, default=int(os.environ.get("DEVLAB_TIMEOUT", "900")),
                    help="seconds the job may run")
    ap.add_argument("--soak", type=int, metavar="SECONDS", default=0,
                    help="instead of one job: the job in a loop and HTTP load on the pool for SECONDS (scripts/devlab/soak.py)")
    a = ap.parse_args()
    if a.soak and a.mode != "pool":
        ap.error("--soak needs the pool (--mode pool)")

    t_start = time.monotonic()
    for what, path in (("flinkfn binary", FLINKFN), ("java", shutil.which("java") or "")):
        if not path or not os.access(path, os.X_OK):
            log(f"FAIL: {what} not found ({path or 'not on PATH'}): run `make setup`")
            return 1
    if a.mode == "pool" and not has_pool(FLINKFN):
        log(f"FAIL: {FLINKFN} has no `pool` command (rebuild it: make build); DEVLAB_MODE=process runs without the pool")
        return 1

    def on_signal(sig, _frame):
        raise Stop(signal.Signals(sig).name)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    run_id = uuid.uuid4().hex[:12]
    procs = {}
    sock_dir = None
    rc = 1
    phases = {}
    try:
        kill_stale()
        home, ver = build_flink_home()
        shutil.rmtree(RUN, ignore_errors=True)
        conf_dir, log_dir, tmp_dir = (os.path.join(RUN, d) for d in ("conf", "log", "tmp"))
        for d in (conf_dir, log_dir, tmp_dir):
            os.makedirs(d)
        for f in glob.glob(os.path.join(home, "conf", "*")):
            if os.path.basename(f) != "config.yaml":
                shutil.copy2(f, conf_dir)
        ports = {"rpc": fs.free_port(), "rest": fs.free_port(), "pool": fs.free_port()}
        conf = local_config(ports, conf_dir, tmp_dir, a.mode)
        rest = f"http://localhost:{ports['rest']}"
        slots = int(conf["taskmanager.numberOfTaskSlots"])

        env = dict(os.environ)
        for k in ("FLINK_HOME", "FLINK_CONF_DIR", "FLINK_LOG_DIR", "_FLINK_HOME_DETERMINED", "FLINKFN_POOL",
                  "PYFLINK_GATEWAY_PORT", "_python_worker_execution_mode"):
            env.pop(k, None)
        env.update({MARK: run_id, MARK_ROOT: ROOT, "FLINK_CONF_DIR": conf_dir, "FLINK_LOG_DIR": log_dir,
                    "FLINKFN_MARKER_FILE": os.path.join(RUN, "workers.txt")})

        log(f"Flink {ver} session cluster from {os.path.relpath(home, ROOT)}, {slots} slots, "
            f"parallelism {conf.get('parallelism.default')}, TaskManager process {conf['taskmanager.memory.process.size']}, "
            f"mode {a.mode}; REST {rest}")
        t0 = time.monotonic()
        metrics = []
        tm_env = dict(env)
        if a.mode == "pool":
            sock_dir = tempfile.mkdtemp(prefix="flinkfn-devlab-")
            pool_addr = f"unix://{sock_dir}/pool.sock"
            http = f"127.0.0.1:{ports['pool']}"
            # The pool's budget: the managed memory Flink reserves for PYTHON
            # on this TaskManager (job shape "python": all of it), as in compose.
            procs["pool"] = Proc("flinkfn pool", [FLINKFN, "pool", "--listen", pool_addr, "--http", http,
                                                  "--flink-conf", os.path.join(conf_dir, "config.yaml"),
                                                  "--memory-limit", str(conf["taskmanager.memory.managed.size"])],
                                 env, os.path.join(log_dir, "pool.log"))
            waited = fs.wait_until("flinkfn pool /readyz", lambda: fs.http_ok(f"http://{http}/readyz"), 180,
                                [procs["pool"]])
            log(f"flinkfn pool ready in {waited:.1f} s (/readyz 200)")
            tm_env["FLINKFN_POOL"] = pool_addr
            metrics = [f"http://{http}/metrics"]
        procs["jobmanager"] = Proc("JobManager", [os.path.join(home, "bin", "jobmanager.sh"), "start-foreground"],
                                   env, os.path.join(log_dir, "jobmanager.out"))
        procs["taskmanager"] = Proc("TaskManager", [os.path.join(home, "bin", "taskmanager.sh"), "start-foreground"],
                                    tm_env, os.path.join(log_dir, "taskmanager.out"))

        def slots_up():
            try:
                o = devlab_job.rest_get(rest, "/overview", timeout=2)
            except (urllib.error.URLError, OSError, ValueError):
                return False
            return o.get("taskmanagers", 0) >= 1 and o.get("slots-total", 0) >= slots

        fs.wait_until("the cluster (JobManager REST, TaskManager slots)", slots_up, 180, procs.values())
        phases["cluster start"] = time.monotonic() - t0
        log(f"cluster up in {phases['cluster start']:.1f} s: 1 TaskManager, {slots} slots")

        def alive():
            for p in procs.values():
                p.check()

        t0 = time.monotonic()
        if a.soak:
            rc = soak.run(home, conf_dir, rest, http, procs["pool"].p.pid, a.soak, env, alive,
                          os.path.join(RUN, "job"), a.accountholders, a.transactions)
            phases["soak"] = time.monotonic() - t0
        else:
            rc = devlab_job.run(home, conf_dir, rest=rest, metrics=metrics, n_ah=a.accountholders, n_tx=a.transactions,
                                python=sys.executable, work=os.path.join(RUN, "job"), timeout=a.timeout,
                                expect_pool=a.mode == "pool", env=env, alive=alive)
            phases["job"] = time.monotonic() - t0
        marker = os.path.join(RUN, "workers.txt")
        if os.path.exists(marker):
            with open(marker, encoding="utf-8") as f:
                workers = {ln.split()[0] for ln in f if ln.strip()}
            log(f"{len(workers)} flinkfn process(es) started by the TaskManager")
    except Stop as s:
        log(f"stopped by {s}")
        rc = 130
    except (RuntimeError, OSError, subprocess.SubprocessError) as ex:
        log(f"FAIL: {ex}")
        rc = 1
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        t0 = time.monotonic()
        for name in ("taskmanager", "jobmanager"):
            if name in procs:
                procs[name].stop(60)
        if "pool" in procs:
            prc = procs["pool"].stop(45)
            if prc != 0:
                log(f"FAIL: the flinkfn pool exited with status {prc} on SIGTERM (want 0 after draining); "
                    f"see {procs['pool'].log}")
                rc = rc or 1
        left = marked_processes(MARK, run_id)
        for pid, cmd in left:
            log(f"FAIL: process left behind: pid {pid}: {cmd[:200]}")
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if left:
            rc = rc or 1
        if sock_dir:
            shutil.rmtree(sock_dir, ignore_errors=True)
        phases["shutdown"] = time.monotonic() - t0
        if procs:
            log(f"shut down in {phases['shutdown']:.1f} s; no process of the run is left"
                if not left else f"shut down in {phases['shutdown']:.1f} s; {len(left)} process(es) had to be killed")
        total = time.monotonic() - t_start
        log(("OK" if rc == 0 else "FAILED") + f" in {total:.1f} s ("
            + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()) + f"); logs in {os.path.relpath(RUN, ROOT)}/")
    return rc


if __name__ == "__main__":
    sys.exit(main())
