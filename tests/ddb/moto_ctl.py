"""moto_ctl.py: start and stop moto's DynamoDB server for a test.

    from moto_ctl import Moto
    with Moto() as m:          # a moto_server on a free port of 127.0.0.1
        m.port ...

As a command:  python3 moto_ctl.py start   (prints the port, runs until killed)

The server dies with the test: it runs in its own process group, is killed
on exit and on SIGTERM, and asks the kernel for SIGKILL when its parent
dies (PR_SET_PDEATHSIG), so a test killed by a ctest timeout leaves no
server behind. moto_server missing is an error with what to install, never
a skip.
"""
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

INSTALL_HINT = ("moto_server was not found on PATH: the DynamoDB writer tests run against moto's "
                "server. Install it with:  pip install 'moto[server]'  (moto 5; it brings flask and boto3)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def die_with_parent():
    """For preexec_fn: SIGKILL when the test process dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _own_group_and_die_with_parent():
    os.setpgrp()
    die_with_parent()


def moto_command():
    """The moto_server to run. A pyenv shim forks the real server, which
    then would not die with the test (PR_SET_PDEATHSIG is not inherited):
    ask pyenv where the real one is."""
    exe = shutil.which("moto_server")
    if exe is None:
        raise SystemExit(INSTALL_HINT)
    try:
        with open(exe, "rb") as f:
            head = f.read(1024).decode("utf-8", "replace")
    except OSError:
        head = ""
    m = re.search(r'exec "([^"]*libexec/pyenv)" exec', head)
    if m:
        r = subprocess.run([m.group(1), "which", "moto_server"], capture_output=True, text=True)
        if r.returncode == 0 and os.path.isfile(r.stdout.strip()):
            exe = r.stdout.strip()
    return [exe]


class Moto:
    def __init__(self, log_path=None, argv=None):
        """argv: a function of the port giving the server's command line
        (default: moto_server on 127.0.0.1)."""
        self.proc = None
        self.port = None
        self.log_path = log_path
        self.argv = argv

    def start(self, timeout=30):
        cmd = None if self.argv else moto_command()
        last = ""
        for _ in range(3):
            self.port = free_port()
            log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
            argv = self.argv(self.port) if self.argv else cmd + ["-H", "127.0.0.1", "-p", str(self.port)]
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, preexec_fn=_own_group_and_die_with_parent)
            deadline = time.time() + timeout
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    last = "moto_server exited with status %d" % self.proc.returncode
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return self
                except OSError:
                    time.sleep(0.05)
            else:
                last = "moto_server did not listen within %d s" % timeout
            self.stop()
        raise RuntimeError(last)

    def stop(self):
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except OSError:
            p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                p.kill()
            p.wait(5)

    def cpu_seconds(self):
        """User + system CPU of the server process so far (Linux)."""
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            tck = os.sysconf("SC_CLK_TCK")
            return (int(fields[11]) + int(fields[12])) / tck
        except (OSError, IndexError, ValueError, AttributeError):
            return float("nan")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] != "start":
        print("usage: moto_ctl.py start", file=sys.stderr)
        sys.exit(2)
    m = Moto().start()
    signal.signal(signal.SIGTERM, lambda *a: (m.stop(), sys.exit(0)))
    print(m.port, flush=True)
    try:
        m.proc.wait()
    finally:
        m.stop()
