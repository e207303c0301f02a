"""What every Python suite needs to run a real `trellis` process: the binary, free loopback ports, setting names
as environment variables, and a stop that always ends the process. Imported by the suites' conftest files (each
puts this folder on sys.path), so the suites stay independent pytest runs."""
import os
import signal
import socket
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
TRELLIS_BIN = os.environ.get("TRELLIS_BIN", os.path.join(ROOT, ".build/debug/trellis"))
START_TIMEOUT = float(os.environ.get("TRELLIS_START_TIMEOUT", "90"))


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_name(setting):
    """`ha.tx_push_factor` → `TRELLIS_ha_tx__push__factor` (docs/configuration.md: `_` as `__`, `.` as `_`)."""
    return "TRELLIS_" + setting.replace("_", "__").replace(".", "_")


def stop_process(proc, timeout=20):
    """Graceful stop: SIGTERM, then SIGKILL when it has not exited within `timeout` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
