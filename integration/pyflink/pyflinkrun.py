"""What the PyFlink test modules share: where things are, and running one
job script in its own interpreter (own gateway JVM and MiniCluster) with its
output in a log file, killed with its process group past the time limit."""

import os
import signal
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV_PYTHON = Path(os.environ.get("COMPAT_PYTHON", REPO / ".cache" / "venv" / "bin" / "python"))
FLINKFN_BIN = Path(os.environ.get("FLINKFN_BIN", REPO / ".cache" / "bin" / "flinkfn"))
RUN_TIMEOUT_S = int(os.environ.get("COMPAT_RUN_TIMEOUT_S", "900"))
TARGET = HERE / "target"


def run_logged(cmd, env, cwd, log):
    """Runs cmd, stdout and stderr into the file log; returns the exit code,
    or "timeout after Ns"."""
    with open(log, "w", encoding="utf-8") as logf:
        proc = subprocess.Popen(cmd, env=env, cwd=str(cwd), stdout=logf, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            return proc.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "timeout after %ds" % RUN_TIMEOUT_S
