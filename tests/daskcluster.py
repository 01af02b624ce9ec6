"""A real Dask cluster on this machine for the cluster tests and the benchmark: a `dask
scheduler` and `dask worker` processes on 127.0.0.1, over TLS with temporary certificates.

`certificates(folder)` writes a CA and a certificate signed by it (for 127.0.0.1 and
localhost), which the scheduler, the workers and the client all use, as a small department
would; `Cluster` starts the processes as the README's cluster section says (workers not
daemonic, one thread each; the scheduler retries a task once after its worker dies) and stops
them, whatever state they are in.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DASK = str(Path(sys.executable).parent / "dask")


def certificates(folder: Path, name: str = "cnncourse-test") -> dict[str, str]:
    """{"ca", "cert", "key"}: paths of a new CA's certificate, and of a certificate and key it
    signed for 127.0.0.1 and localhost (client and server use both)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    paths["key"].chmod(0o600)
    return {k: str(v) for k, v in paths.items()}


class Cluster:
    """A TLS scheduler on 127.0.0.1 and `workers` workers (each a nanny and its worker
    process), started in `folder`; `stop()` ends every process of it."""

    def __init__(self, folder: Path, workers: int = 2, certs: dict | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.certs = certs or certificates(self.folder / "tls")
        self.procs: list[subprocess.Popen] = []
        self.scheduler_file = self.folder / "scheduler.json"
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
        self.scheduler = self._start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                      "--protocol", "tls", "--no-dashboard",
                                      "--scheduler-file", str(self.scheduler_file),
                                      *self.tls_args()], env, "scheduler")
        deadline = time.monotonic() + 120
        while not self.scheduler_file.exists() or not self.scheduler_file.read_text().strip():
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the scheduler did not start: " + self.log("scheduler"))
            time.sleep(0.2)
        self.address = json.loads(self.scheduler_file.read_text())["address"]
        self.workers = [self.add_worker(f"w{i}") for i in range(workers)]
        self.wait_for_workers(workers)

    def tls_args(self, certs: dict | None = None) -> list[str]:
        certs = certs or self.certs
        return ["--tls-ca-file", certs["ca"], "--tls-cert", certs["cert"],
                "--tls-key", certs["key"]]

    def add_worker(self, name: str, *, env: dict | None = None, certs: dict | None = None,
                   wait: bool = False) -> subprocess.Popen:
        """Start `dask worker` as the README says (not daemonic, one thread), or with `env`
        changed (None values removed), or with other TLS files `certs`."""
        merged = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
        for k, v in (env or {}).items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        proc = self._start([DASK, "worker", self.address, "--name", name, "--nthreads", "1",
                            "--nworkers", "1", "--no-dashboard", "--death-timeout", "60",
                            "--local-directory", str(self.folder / name),
                            *self.tls_args(certs)], merged, name)
        if wait:
            self.wait_for_workers(len(self.names()) + 1)
        return proc

    def _start(self, argv, env, name) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                cwd=self.folder)
        log.close()
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def client(self, **kwargs):
        """A Dask client with the cluster's certificate."""
        from distributed import Client

        return Client(self.address, security=self.security(), set_as_default=False,
                      timeout=30, **kwargs)

    def security(self):
        from distributed.security import Security

        return Security(tls_ca_file=self.certs["ca"], tls_client_cert=self.certs["cert"],
                        tls_client_key=self.certs["key"], require_encryption=True)

    def names(self) -> list[str]:
        with self.client() as c:
            # the scheduler's identity asked for directly: scheduler_info() returns a cache that
            # the client's periodic refresh (with no workers in it) may overwrite meanwhile
            identity = c.sync(c.scheduler.identity, n_workers=-1)
            return sorted(w["name"] for w in identity["workers"].values())

    def wait_for_workers(self, n: int, timeout: float = 180) -> None:
        with self.client() as c:
            c.wait_for_workers(n, timeout=timeout)

    def stop_worker(self, proc: subprocess.Popen) -> None:
        _kill_group(proc)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass
