"""Warm kernels for grading: an ipykernel forked from a process that has already imported
ipykernel, NumPy and PyTorch.

A fresh kernel spends seconds of CPU before a notebook's first line: starting Python, importing
ipykernel and IPython, then the notebook imports torch. `cnncourse grade` runs hundreds of
notebooks that all do the same, so each worker keeps a *zygote*:

    python -m cnncourse.grading.warmkernel --serve SOCKET PID  # the zygote: imports, then forks
    python -m cnncourse.grading.warmkernel -f CONNECTION_FILE  # what the kernelspec starts

The client is what jupyter_client launches and watches (a bare Python, ~30 ms): it asks the
zygote over a Unix socket for a kernel with its connection file, working folder and environment,
then waits for that kernel to exit, passing on SIGINT and SIGTERM. The forked kernel has run no
code before the notebook's: it is a fresh ipykernel whose imports are already done. Where the
zygote is not there (killed, not started), the client turns into an ordinary kernel
(`exec python -m cnncourse.grading.warmkernel --cold`: ipykernel's own app, started as
`ipykernel_launcher` starts it), so nothing depends on it but the time. Both kinds enter the
grading worker's jail where it asks for one (`run_kernel`, `cnncourse.grading.jail`).

matplotlib is imported before the fork only where MPLBACKEND is unset, with the inline backend
ipykernel would choose in the kernel anyway (matplotlib reads MPLBACKEND once, at import).
Nothing that starts threads is imported before the fork.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

from cnncourse.grading.env import add_kernelspecs, offer_warm_kernels

KERNEL_NAME = "cnncourse-warm"
INLINE = "module://matplotlib_inline.backend_inline"
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "IPython", "numpy", "torch",
           "torch.nn", "torch.nn.functional", "comm", "zmq")


# ------------------------------------------------------------------------------ the zygote

def _kernel(request: dict) -> None:
    """In the forked child: become the kernel the client asked for. Never returns."""
    code = 1
    try:  # no setsid: it stays in the grading worker's process group, so a kill reaches it
        os.chdir(request["cwd"])
        preloaded = os.environ.get("MPLBACKEND")
        os.environ.clear()
        os.environ.update(request["env"])
        if preloaded and "MPLBACKEND" not in request["env"] and "matplotlib" in sys.modules:
            os.environ["MPLBACKEND"] = preloaded  # as ipykernel sets it, matching the import
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        run_kernel(request["connection_file"], request["cwd"])
        code = 0
    finally:
        os._exit(code)


def run_kernel(connection_file: str, cwd: str) -> None:
    """Be an ipykernel for `connection_file`, in the grading jail where the worker asks for
    one (`cnncourse.grading.jail`): the connection file is copied into the jail and the folder of
    its Unix sockets bound in, nothing else of the host is. Threads start only after the jail
    is entered."""
    from ipykernel.kernelapp import IPKernelApp

    from cnncourse.grading import jail

    jailed = jail.setting() is not None
    if jailed:
        info = Path(connection_file).read_bytes()
        inside = "/tmp/.cnncourse-kernel.json"
        # the jail has a network of its own: the client reaches the kernel only through Unix
        # sockets (jupyter_client's ipc transport), in their folder, which the jail binds in
        connection = json.loads(info)
        if connection.get("transport") != "ipc":
            sys.stderr.write("cnncourse: a jailed kernel needs the ipc transport\n")
            os._exit(70)

        def copy_in(root, chown):
            Path(root + inside).write_bytes(info)
            os.chmod(root + inside, 0o600)
            chown(root + inside)

        sockets, prefix = os.path.split(os.path.abspath(connection["ip"]))
        if any(not name.startswith(prefix + "-") for name in os.listdir(sockets)):
            sys.stderr.write(f"cnncourse: {sockets} holds more than kernel sockets: not bound "
                             "into a jail\n")
            os._exit(70)
        jail.enter_from_env(cwd, hide=("*.ipynb",), before_drop=copy_in, sockets=sockets)
        connection_file = inside
    sys.argv = [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]
    app = IPKernelApp.instance()
    app.initialize(["-f", connection_file])
    if jailed:  # read: the notebook's code finds nothing in the jail it did not bring
        os.unlink(connection_file)
    app.start()


def serve(path: str, parent: int | None = None) -> int:
    """The zygote: import what kernels need, then fork a kernel for each client request on
    the socket at `path`. It dies with the worker that started it (`parent`), and each kernel
    it forks dies with it."""
    import importlib

    from cnncourse.grading.procs import die_with_parent

    die_with_parent(parent)

    preload = list(PRELOAD)
    if not os.environ.get("MPLBACKEND"):
        # what ipykernel sets in every kernel where MPLBACKEND is unset (init_gui_pylab), set
        # before matplotlib reads it at import; with MPLBACKEND set, matplotlib waits
        os.environ["MPLBACKEND"] = INLINE
        preload += ["matplotlib", "matplotlib.pyplot"]
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing one only costs time in the kernel
            pass
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked kernels are reaped by the kernel
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    server.bind(path)
    os.chmod(path, 0o600)
    server.listen(8)
    Path(path + ".ready").write_text(str(os.getpid()))
    server.settimeout(1.0)
    while True:
        try:
            conn, _ = server.accept()
        except TimeoutError:  # and a second guard besides the signal: is the worker there?
            if parent is not None and os.getppid() != parent:
                return 0
            continue
        conn.settimeout(None)
        with conn:
            try:
                request = json.loads(_recv_line(conn))
            except (ValueError, OSError):
                continue
            zygote = os.getpid()
            pid = os.fork()
            if pid == 0:
                die_with_parent(zygote)
                server.close()
                conn.close()
                _kernel(request)
            try:
                conn.sendall(f"{pid}\n".encode())
            except OSError:
                pass


def _recv_line(conn: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode()


# ------------------------------------------------------------------------------ the client

def client(connection_file: str) -> int:
    """What the kernelspec starts: a warm kernel from the zygote (then this process relays
    signals to it), or, without a zygote, an ordinary kernel in its place. Either dies with the
    worker that started it (the parent-death signal survives the exec)."""
    from cnncourse.grading.env import warm_socket
    from cnncourse.grading.procs import alive, die_with_parent

    die_with_parent()

    path = warm_socket()
    pid = None
    if path:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(path)
                s.sendall((json.dumps({"connection_file": os.path.abspath(connection_file),
                                       "cwd": os.getcwd(), "env": dict(os.environ)})
                           + "\n").encode())
                pid = int(_recv_line(s).strip())
        except (OSError, ValueError):
            pid = None
    if pid is None:  # no zygote: an ordinary kernel (jailed where the worker asks)
        os.execv(sys.executable, [sys.executable, "-m", "cnncourse.grading.warmkernel", "--cold",
                                  "-f", connection_file])

    def forward(signum, frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
        if signum == signal.SIGTERM:
            sys.exit(0)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    while alive(pid):
        time.sleep(0.1)
    return 0


# ----------------------------------------------------------------- the grader's side of it

class Zygote:
    """A warm-kernel zygote for one grading worker, and the kernelspec that uses it.

    The kernelspec is installed (on JUPYTER_PATH) whether or not the zygote is started: without
    it, the client starts a cold kernel, which still enters the worker's jail."""

    def __init__(self, where: Path):
        self.where = Path(where)
        self.socket = str(self.where / "zygote.sock")
        self.proc = None
        spec = self.where / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "cnncourse.grading.warmkernel", "-f",
                     "{connection_file}"],
            "display_name": "Python 3 (warm, for grading)", "language": "python",
            "metadata": {"debugger": False}}))
        add_kernelspecs(str(self.where))

    def start(self) -> None:
        import subprocess

        self.stop()
        ready = Path(self.socket + ".ready")
        ready.unlink(missing_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "cnncourse.grading.warmkernel",
                                      "--serve", self.socket, str(os.getpid())],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        offer_warm_kernels(self.socket)

    def ensure(self) -> None:
        """Restart it if something killed it (the client falls back meanwhile)."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        sys.exit(serve(sys.argv[2], int(sys.argv[3]) if sys.argv[3:] else None))
    if sys.argv[1:2] == ["-f"]:
        sys.exit(client(sys.argv[2]))
    if sys.argv[1:3] == ["--cold", "-f"]:
        sys.exit(run_kernel(sys.argv[3], os.getcwd()))
    sys.exit("usage: python -m cnncourse.grading.warmkernel --serve SOCKET | "
             "[--cold] -f CONNECTION_FILE")
