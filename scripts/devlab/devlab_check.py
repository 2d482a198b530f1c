#!/usr/bin/env python3
"""make devlab-check: devlab's compose file, Dockerfile and Flink configuration
agree with each other, with the repository and with `flinkfn plan`.

    .cache/venv/bin/python scripts/devlab/devlab_check.py [--no-docker]

Checks, each failure printed as `devlab-check: FAIL: ...` (exit status 1):

* memory: the taskmanager service has a memory limit and it is not below
  taskmanager.memory.process.size; `flinkfn plan --config devlab/conf/config.yaml
  --compose devlab/docker-compose.yaml --service taskmanager --mode pool ...`
  (its report is printed) exits 0 with the verdict "fits" and no error
  finding; the pool's budget (FLINKFN_POOL_MEMORY_LIMIT) is the managed memory
  Flink reserves for PYTHON on the TaskManager; the jobmanager limit is not
  below jobmanager.memory.process.size;
* wiring: JobManager address, REST port, the pool's socket and HTTP port, the
  health checks (/readyz on the pool's port), the job's --metrics URL and
  python.executable (= where the image installs flinkfn) match;
* files: every path the compose file and the Dockerfile name (build context,
  Dockerfile, build targets, bind mounts, COPY sources) exists in the
  repository; the Flink image is the version the tests use
  (scripts/setup/pyflink-version), Java 17; Go as in go.mod;
* env.java.opts.all is Flink's default (the distribution's conf/config.yaml);
* `docker compose config` accepts the file, where the compose plugin exists.
"""

import argparse
import glob
import json
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAILS = []


def fail(msg):
    FAILS.append(msg)
    print(f"devlab-check: FAIL: {msg}", flush=True)


def ok(msg):
    print(f"devlab-check: ok: {msg}", flush=True)


def rel(p):
    return os.path.relpath(p, ROOT)


# ------------------------------------------------------------------ sizes

_FLINK_UNITS = {"": 1, "b": 1, "bytes": 1, "k": 1 << 10, "kb": 1 << 10, "kibibytes": 1 << 10,
                "m": 1 << 20, "mb": 1 << 20, "mebibytes": 1 << 20, "g": 1 << 30, "gb": 1 << 30,
                "gibibytes": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tebibytes": 1 << 40}


def flink_size(s):
    """Flink's MemorySize syntax: 1600m, 4 gb, 1073741824."""
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", str(s))
    if not m or m.group(2).lower() not in _FLINK_UNITS:
        raise ValueError(f"not a Flink memory size: {s!r}")
    return int(m.group(1)) * _FLINK_UNITS[m.group(2).lower()]


def compose_size(s):
    """compose's (docker/go-units RAMInBytes) binary sizes: 4G, 2g, 1.5gb, 512m."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?", str(s).strip())
    if not m:
        raise ValueError(f"not a compose memory size: {s!r}")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}[(m.group(2) or "").lower()]
    return int(float(m.group(1)) * mult)


def gib(b):
    return f"{b / (1 << 30):.2f} GiB" if b >= 1 << 30 else f"{b / (1 << 20):.1f} MiB"


def flatten(d, prefix=""):
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def limit_of(svc):
    lim = (((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}).get("memory")
    return lim if lim is not None else svc.get("mem_limit")


def env_of(svc):
    e = svc.get("environment") or {}
    if isinstance(e, list):
        e = dict(x.split("=", 1) if "=" in x else (x, "") for x in e)
    return {k: str(v) for k, v in e.items()}


def healthcheck_url(svc):
    test = (svc.get("healthcheck") or {}).get("test") or []
    words = test if isinstance(test, list) else shlex.split(test)
    return next((w for w in words if isinstance(w, str) and w.startswith("http")), None)


def url_port(url):
    m = re.match(r"https?://[^/:]+:(\d+)", url or "")
    return int(m.group(1)) if m else None


# ------------------------------------------------------------------ Dockerfile

def dockerfile_info(path):
    """stages, FROM images (ARG defaults substituted), COPY sources (not
    --from) with their line, ENTRYPOINT, ARG defaults."""
    text = open(path, encoding="utf-8").read().replace("\\\n", " ")
    args, stages, froms, copies, entry = {}, [], [], [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "ARG" and "=" in rest:
            k, v = rest.strip().split("=", 1)
            # an ARG default may use earlier ARGs (FLINK_IMAGE=flink:${FLINK_VERSION}-java17)
            args.setdefault(k, re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), v))
        elif word == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            froms.append(image)
            if len(parts) >= 3 and parts[1].upper() == "AS":
                stages.append(parts[2])
        elif word in ("COPY", "ADD"):
            parts = shlex.split(rest)
            flags = [p for p in parts if p.startswith("--")]
            paths = [p for p in parts if not p.startswith("--")]
            if not any(f.startswith("--from") for f in flags):
                copies.append((paths[:-1], paths[-1]))
        elif word == "ENTRYPOINT":
            try:
                entry = json.loads(rest)
            except ValueError:
                entry = rest.split()
    return {"args": args, "stages": stages, "froms": froms, "copies": copies, "entrypoint": entry}


# ------------------------------------------------------------------ checks

def check_files(compose_path, compose, version):
    n = len(FAILS)
    cdir = os.path.dirname(os.path.abspath(compose_path))
    dinfo = {}
    for name, svc in (compose.get("services") or {}).items():
        b = svc.get("build")
        if b:
            b = {"context": b} if isinstance(b, str) else b
            ctx = os.path.normpath(os.path.join(cdir, b.get("context", ".")))
            df = os.path.join(ctx, b.get("dockerfile", "Dockerfile"))
            if not os.path.isdir(ctx):
                fail(f"service {name}: build context {b.get('context')} ({ctx}) does not exist")
                continue
            if not os.path.isfile(df):
                fail(f"service {name}: Dockerfile {b.get('dockerfile')} not found in the build context {ctx}")
                continue
            info = dinfo.setdefault(df, dockerfile_info(df))
            if b.get("target") and b["target"] not in info["stages"]:
                fail(f"service {name}: build target {b['target']!r} is not a stage of {rel(df)} ({info['stages']})")
            for srcs, _dst in info["copies"]:
                for s in srcs:
                    if not glob.glob(os.path.join(ctx, s)):
                        fail(f"{rel(df)}: COPY source {s} does not exist in the build context {rel(ctx) or '.'}")
            ignore = df + ".dockerignore"
            if not os.path.isfile(ignore) and not os.path.isfile(os.path.join(ctx, ".dockerignore")):
                fail(f"{rel(df)}: no {os.path.basename(ignore)} or .dockerignore: .cache/ and .git would be sent to the builder")
        for v in svc.get("volumes") or []:
            src = v.split(":", 1)[0] if isinstance(v, str) else (v.get("source") if v.get("type") == "bind" else None)
            if src and (src.startswith(".") or src.startswith("/")):
                p = os.path.normpath(os.path.join(cdir, src))
                if not os.path.exists(p):
                    fail(f"service {name}: bind mount source {src} ({p}) does not exist")
    for df, info in dinfo.items():
        flink = [f for f in info["froms"] if f.startswith("flink:")]
        want = f"flink:{version}-java17"
        if not flink:
            fail(f"{rel(df)}: no stage FROM the official flink image ({want})")
        for f in flink:
            if f != want:
                fail(f"{rel(df)}: FROM {f}, want {want} (scripts/setup/pyflink-version: the Flink the tests use)")
        gomod = open(os.path.join(ROOT, "go.mod"), encoding="utf-8").read()
        gov = re.search(r"^go (\d+\.\d+)", gomod, re.M)
        golang = [f for f in info["froms"] if f.startswith("golang:")]
        if gov and golang and not golang[0].startswith(f"golang:{gov.group(1)}"):
            fail(f"{rel(df)}: builder {golang[0]} but go.mod says go {gov.group(1)}")
        ent = info["entrypoint"] or []
        dsts = [dst for _, dst in info["copies"]]
        if ent and ent[0] not in dsts:
            fail(f"{rel(df)}: ENTRYPOINT {ent[0]} is not a file the Dockerfile copies ({dsts})")
    if len(FAILS) == n:
        ok(f"files: build contexts, Dockerfile targets, COPY sources and bind mounts exist; image flink:{version}-java17")
    return dinfo


def check_wiring(compose, flat, dinfo):
    n = len(FAILS)
    svcs = compose.get("services") or {}
    for need in ("jobmanager", "taskmanager", "job"):
        if need not in svcs:
            fail(f"compose has no service {need!r}")
    if len(FAILS) > n:
        return
    jm, tm, job = svcs["jobmanager"], svcs["taskmanager"], svcs["job"]
    for name, svc in (("jobmanager", jm), ("taskmanager", tm), ("job", job)):
        addr = env_of(svc).get("JOB_MANAGER_RPC_ADDRESS")
        if addr != "jobmanager":
            fail(f"service {name}: JOB_MANAGER_RPC_ADDRESS is {addr!r}, want 'jobmanager' (Flink's entrypoint "
                 "otherwise writes the container's own host name into jobmanager.rpc.address)")
    if flat.get("jobmanager.rpc.address") != "jobmanager" or flat.get("rest.address") != "jobmanager":
        fail("config: jobmanager.rpc.address and rest.address must be the compose service name 'jobmanager'")
    rest_port = int(flat.get("rest.port", 8081))
    if url_port(healthcheck_url(jm)) != rest_port:
        fail(f"service jobmanager: health check {healthcheck_url(jm)} is not on rest.port {rest_port}")
    if not any(str(p).split(":")[-1] == str(rest_port) for p in jm.get("ports") or []):
        fail(f"service jobmanager: rest.port {rest_port} is not published")

    env = env_of(tm)
    pool = env.get("FLINKFN_POOL", "")
    if not (pool.startswith("unix:///") or re.match(r"^(127\.0\.0\.1|localhost|\[::1\]):\d+$", pool)):
        fail(f"service taskmanager: FLINKFN_POOL={pool!r}: want unix:///abs/path.sock or a loopback host:port")
    http = env.get("FLINKFN_POOL_HTTP", "")
    hport = int(http.rsplit(":", 1)[1]) if re.match(r".*:\d+$", http) else None
    hc = healthcheck_url(tm)
    if not hc or not hc.endswith("/readyz") or url_port(hc) != hport:
        fail(f"service taskmanager: the health check ({hc}) must be the pool's /readyz on FLINKFN_POOL_HTTP's port {hport}")
    if not any(str(p).split(":")[-1] == str(hport) for p in tm.get("ports") or []):
        fail(f"service taskmanager: the pool's metrics port {hport} is not published")
    metrics = [c.split("=", 1)[1] for c in job.get("command") or [] if isinstance(c, str) and c.startswith("--metrics=")]
    if not metrics or any(not re.match(rf"http://taskmanager:{hport}/metrics$", m) for m in metrics):
        fail(f"service job: --metrics {metrics} is not http://taskmanager:{hport}/metrics")
    cdeps = job.get("depends_on") or {}
    if isinstance(cdeps, dict) and (cdeps.get("taskmanager") or {}).get("condition") != "service_healthy":
        fail("service job: must depend on taskmanager being service_healthy (the pool's /readyz)")

    exe = flat.get("python.executable", "")
    flink_df = next(iter(dinfo.values()), None)
    if exe != "/opt/flinkfn/bin/flinkfn":
        fail(f"config: python.executable is {exe!r}, want /opt/flinkfn/bin/flinkfn (where the image installs flinkfn)")
    if flink_df is not None:
        df_text = open(next(iter(dinfo)), encoding="utf-8").read()
        if "-o /out/flinkfn/bin/flinkfn" not in df_text or "/out/flinkfn /opt/flinkfn" not in df_text:
            fail("Dockerfile: flinkfn is not built to /out/flinkfn/bin and copied to /opt/flinkfn "
                 "(python.executable /opt/flinkfn/bin/flinkfn)")
    for name, svc in (("jobmanager", jm), ("taskmanager", tm), ("job", job)):
        if not any(str(v).startswith("./conf:/opt/flinkfn/conf") for v in svc.get("volumes") or []):
            fail(f"service {name}: devlab/conf is not mounted at /opt/flinkfn/conf (entrypoint.sh installs it)")
    if len(FAILS) == n:
        ok("wiring: JobManager address, REST port, pool socket and HTTP port, health checks, metrics URL, python.executable")


def check_java_opts(flat):
    try:
        import pyflink
        dist = os.path.join(os.path.dirname(pyflink.__file__), "conf", "config.yaml")
    except ImportError:
        print("devlab-check: skipped: env.java.opts.all vs the distribution (no PyFlink in this Python)")
        return
    import yaml
    want = flatten(yaml.safe_load(open(dist, encoding="utf-8"))).get("env.java.opts.all")
    if flat.get("env.java.opts.all") != want:
        fail("config: env.java.opts.all differs from Flink's default (the distribution's conf/config.yaml): "
             "copy it from there (Flink needs these --add-opens on Java 17)")
    else:
        ok("env.java.opts.all is Flink's default")


def check_memory(flinkfn, config, compose_path, compose, flat, model, headroom, sessions):
    n = len(FAILS)
    svcs = compose.get("services") or {}
    tm, jm = svcs.get("taskmanager") or {}, svcs.get("jobmanager") or {}
    lim = limit_of(tm)
    proc = flat.get("taskmanager.memory.process.size")
    if lim is None:
        fail(f"{rel(compose_path)}: service taskmanager has no memory limit (deploy.resources.limits.memory): "
             f"set it to taskmanager.memory.process.size ({proc})")
    elif proc is not None and compose_size(lim) < flink_size(proc):
        lb, pb = compose_size(lim), flink_size(proc)
        fail(f"{rel(compose_path)}: service taskmanager's memory limit {lim} ({gib(lb)}) is BELOW "
             f"taskmanager.memory.process.size {proc} ({gib(pb)}) in {rel(config)}, {gib(pb - lb)} short: Flink sizes "
             f"heap, direct memory and overhead for memory the container does not have and the kernel OOM-kills "
             f"the TaskManager (exit 137). Raise the limit to at least {proc}, or lower "
             f"taskmanager.memory.process.size to the limit and re-size with flinkfn plan (devlab/README.md)")
    jlim, jproc = limit_of(jm), flat.get("jobmanager.memory.process.size")
    if jlim is None:
        fail(f"{rel(compose_path)}: service jobmanager has no memory limit")
    elif jproc is not None and compose_size(jlim) < flink_size(jproc):
        fail(f"{rel(compose_path)}: service jobmanager's memory limit {jlim} ({gib(compose_size(jlim))}) is BELOW "
             f"jobmanager.memory.process.size {jproc} ({gib(flink_size(jproc))}) in {rel(config)}")

    cmd = [flinkfn, "plan", "--config", config, "--compose", compose_path, "--service", "taskmanager",
           "--mode", "pool", "--sessions-per-slot", str(sessions), "--headroom", str(headroom)]
    if model:
        cmd += ["--model", model]
    # The footprint the pool reserves (model loaded and warmed here), not the
    # file-size estimate.
    cmd += ["--measure"]
    print("devlab-check: $ " + " ".join(rel(c) if os.path.isabs(c) and c.startswith(ROOT) else c for c in cmd),
          flush=True)
    txt = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(txt.stdout)
    sys.stdout.write(txt.stderr)
    sys.stdout.flush()
    js = subprocess.run(cmd + ["--json"], capture_output=True, text=True)
    if txt.returncode != 0:
        fail(f"flinkfn plan exited {txt.returncode} ({'the workers will be OOM-killed' if txt.returncode == 1 else 'Flink rejects the configuration' if txt.returncode == 3 else 'usage'}): "
             + (txt.stderr.strip().splitlines() or ["see its report above"])[-1])
    try:
        plan = json.loads(js.stdout)
    except ValueError:
        fail("flinkfn plan --json gave no JSON")
        return
    if plan.get("verdict") != "fits":
        fail(f"flinkfn plan: verdict {plan.get('verdict')!r}, want 'fits': {plan.get('selected', {}).get('summary')}")
    for f in plan.get("findings") or []:
        if f.get("level") == "error":
            fail(f"flinkfn plan: {f.get('message')}")
    rec = plan.get("recommendation") or {}
    drift = [s for s in rec.get("settings") or [] if s.get("was") is None or
             flink_size(s["value"]) != flink_size(s["was"])]
    if drift and plan.get("verdict") == "fits":
        print("devlab-check: note: flinkfn plan would now recommend "
              + ", ".join(f"{s['key']}: {s['value']} (config: {s.get('was')})" for s in drift), flush=True)
    # The pool's budget is what Flink reserves for PYTHON on the TaskManager.
    slots = (plan.get("taskmanager") or {}).get("slots") or 0
    per_slot = (plan.get("python_worker_limit") or {}).get("bytes") or 0
    budget = per_slot * slots
    pl = env_of(tm).get("FLINKFN_POOL_MEMORY_LIMIT")
    if pl is None:
        fail("service taskmanager: FLINKFN_POOL_MEMORY_LIMIT is not set: the pool would take the container's "
             "cgroup limit (the whole TaskManager's) as its budget")
    else:
        try:
            pb = flink_size(pl)
        except ValueError as ex:
            fail(f"service taskmanager: FLINKFN_POOL_MEMORY_LIMIT: {ex}")
        else:
            if abs(pb - budget) > max(slots, 1) * 1024:
                fail(f"service taskmanager: FLINKFN_POOL_MEMORY_LIMIT {pl} ({gib(pb)}) is not the PYTHON managed "
                     f"memory Flink reserves on the TaskManager ({slots} slots x {per_slot} = {gib(budget)}): "
                     "set it to taskmanager.memory.managed.size")
    if len(FAILS) == n:
        ok(f"memory: taskmanager limit {lim} = process.size {proc}; flinkfn plan: "
           f"{(plan.get('selected') or {}).get('summary')}; pool budget {pl}; jobmanager limit {jlim} >= {jproc}")


def check_docker_compose(compose_path):
    try:
        v = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        v = None
    if v is None or v.returncode != 0:
        print("devlab-check: skipped: docker compose config (no docker compose plugin here)", flush=True)
        return
    r = subprocess.run(["docker", "compose", "-f", compose_path, "config", "--quiet"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"docker compose config rejects {rel(compose_path)}: {r.stderr.strip()}")
    else:
        ok(f"docker compose config accepts {rel(compose_path)} ({v.stdout.strip()})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compose", default=os.path.join(ROOT, "devlab", "docker-compose.yaml"))
    ap.add_argument("--config", default=os.path.join(ROOT, "devlab", "conf", "config.yaml"))
    ap.add_argument("--flinkfn", default=os.environ.get("FLINKFN_BIN", os.path.join(ROOT, ".cache", "bin", "flinkfn")))
    ap.add_argument("--model", default=os.path.join(ROOT, ".cache", "models", "all-MiniLM-L6-v2"),
                    help="model folder flinkfn plan measures")
    ap.add_argument("--headroom", default="1.15", help="flinkfn plan --headroom the config was sized with")
    ap.add_argument("--sessions-per-slot", type=int, default=2,
                    help="Python operators per slot (the job: ah_embed and txn_embed)")
    ap.add_argument("--no-docker", action="store_true", help="skip docker compose config")
    a = ap.parse_args()
    import yaml

    if not os.access(a.flinkfn, os.X_OK):
        print(f"devlab-check: FAIL: {a.flinkfn} not found: run make build", file=sys.stderr)
        return 1
    if not os.path.isfile(os.path.join(a.model, "manifest.json")):
        print(f"devlab-check: FAIL: no model in {a.model}: run make setup", file=sys.stderr)
        return 1
    compose = yaml.safe_load(open(a.compose, encoding="utf-8")) or {}
    flat = flatten(yaml.safe_load(open(a.config, encoding="utf-8")))
    version = open(os.path.join(ROOT, "scripts", "setup", "pyflink-version"), encoding="utf-8").read().strip()

    check_memory(a.flinkfn, a.config, a.compose, compose, flat, a.model, a.headroom, a.sessions_per_slot)
    dinfo = check_files(a.compose, compose, version)
    check_wiring(compose, flat, dinfo)
    check_java_opts(flat)
    if not a.no_docker:
        check_docker_compose(a.compose)
    if FAILS:
        print(f"devlab-check: {len(FAILS)} problem(s)", flush=True)
        return 1
    print("devlab-check: OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
