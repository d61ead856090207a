"""Starts the real Azurite (from node_modules) on free loopback ports with a temporary location.

It serves two accounts (`AZURITE_ACCOUNTS`): the default `devstoreaccount1` and `SECOND_ACCOUNT`, so tests
can have containers of the same name in two accounts, as real deployments do.
"""

from __future__ import annotations

import http.client
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

from .ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key (not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SECOND_ACCOUNT = "secondaccount"
SECOND_CONNECTION = "SECOND_STORAGE"  # the app setting the tests name the second account by
SECOND_ACCOUNT_KEY = "c2Vjb25kYWNjb3VudCBrZXkgZm9yIGxvY2FsIHRlc3RzIG9ubHk="  # made up, for the local emulator only
START_ATTEMPTS = 3  # launches with fresh ports when one was taken in between


def azurite_command() -> str:
    local = REPO_ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if found:
        return found
    raise RuntimeError("Azurite is not installed: run `npm ci` in the repository root (Node 20)")


class Azurite:
    """`oauth=True` serves https with a throwaway certificate and accepts bearer tokens, as identity-based
    connections (`<NAME>__blobServiceUri` + managed identity) need; `cert_file` is the CA to trust."""

    def __init__(self, oauth: bool = False, startup_seconds: float = 30.0) -> None:
        self.startup_seconds = startup_seconds  # a database seeded with 100k blobs takes longer to load
        self.location = Path(tempfile.mkdtemp(prefix="azurite-"))
        self.blob_port, self.queue_port, self.table_port = distinct_free_ports(3)
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr_log = self.location / "stderr.log"  # a file, not a pipe nobody reads: a full one blocks Azurite
        self.oauth = oauth
        self.cert_file = self.location / "cert.pem"
        self.key_file = self.location / "key.pem"

    def _tls_arguments(self) -> list[str]:
        if not self.oauth:
            return []
        write_self_signed_certificate(self.cert_file, self.key_file)
        return ["--oauth", "basic", "--cert", str(self.cert_file), "--key", str(self.key_file)]

    def start(self) -> Azurite:
        """Launch, and wait until Azurite itself answers on all three ports.

        A free port is only free when it was looked at: another process can take it before Azurite binds it, and
        a connect that merely succeeds may have reached that process (or the socket itself, a TCP self-connect
        in the ephemeral range). So readiness is an HTTP answer naming Azurite's service while our process
        lives, and a port taken in between means new ports and another launch.
        """
        launches_left = START_ATTEMPTS
        while True:
            launches_left -= 1
            self._launch()
            try:
                self._wait_until_serving()
                return self
            except AzuriteExited as exited:
                if not (exited.port_taken and launches_left):
                    self.stop()
                    raise
                self.blob_port, self.queue_port, self.table_port = distinct_free_ports(3)
            except TimeoutError:
                self.stop()
                raise

    def _launch(self) -> None:
        with self.stderr_log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [
                    azurite_command(),
                    "--silent",
                    "--disableTelemetry",
                    "--skipApiVersionCheck",
                    "--loose",
                    "--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port),
                    "--queueHost", "127.0.0.1", "--queuePort", str(self.queue_port),
                    "--tableHost", "127.0.0.1", "--tablePort", str(self.table_port),
                    "--location", str(self.location),
                    *self._tls_arguments(),
                ],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                # Naming accounts replaces the default one, so it is named too.
                env={**os.environ,
                     "AZURITE_ACCOUNTS": f"{ACCOUNT}:{ACCOUNT_KEY};{SECOND_ACCOUNT}:{SECOND_ACCOUNT_KEY}"},
            )

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + self.startup_seconds
        waiting = {self.blob_port: "Azurite-Blob", self.queue_port: "Azurite-Queue", self.table_port: "Azurite-Table"}
        while waiting:
            self._raise_if_exited()
            for port, service in list(waiting.items()):
                if self._server_name(port).startswith(service):
                    del waiting[port]
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f"Azurite did not answer on 127.0.0.1:{sorted(waiting)} within "
                                   f"{self.startup_seconds:g}s")
            if waiting:
                time.sleep(0.1)
        self._raise_if_exited()

    def _server_name(self, port: int) -> str:
        """The `Server` header of whatever answers HTTP on `port`, or "" when nothing answers HTTP there."""
        if self.oauth:
            context = ssl.create_default_context(cafile=str(self.cert_file))
            connection: http.client.HTTPConnection = http.client.HTTPSConnection("127.0.0.1", port, timeout=2,
                                                                                  context=context)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", f"/{ACCOUNT}?comp=list")
            return connection.getresponse().getheader("Server") or ""
        except (OSError, http.client.HTTPException):
            return ""
        finally:
            connection.close()

    def _raise_if_exited(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AzuriteExited(self.process.returncode, self.stderr_log.read_text(errors="replace"))

    def endpoint(self, port: int, account: str = ACCOUNT) -> str:
        scheme = "https" if self.oauth else "http"
        return f"{scheme}://127.0.0.1:{port}/{account}"

    @property
    def blob_endpoint(self) -> str:
        return self.endpoint(self.blob_port)

    @property
    def connection_string(self) -> str:
        return self.connection_string_for(ACCOUNT)

    def connection_string_for(self, account: str) -> str:
        key = {ACCOUNT: ACCOUNT_KEY, SECOND_ACCOUNT: SECOND_ACCOUNT_KEY}[account]
        return (
            f"DefaultEndpointsProtocol={'https' if self.oauth else 'http'};AccountName={account};"
            f"AccountKey={key};BlobEndpoint={self.endpoint(self.blob_port, account)};"
            f"QueueEndpoint={self.endpoint(self.queue_port, account)};"
            f"TableEndpoint={self.endpoint(self.table_port, account)};"
        )

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def stop(self) -> None:
        self._terminate()
        shutil.rmtree(self.location, ignore_errors=True)


class AzuriteExited(RuntimeError):
    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(f"Azurite exited with code {returncode} while starting: {stderr.strip()[-2000:]}")
        self.port_taken = "EADDRINUSE" in stderr


def distinct_free_ports(count: int) -> tuple[int, ...]:
    """`count` different free ports: two lookups in a row can return the same one."""
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return tuple(ports)


def write_self_signed_certificate(cert_file: Path, key_file: Path) -> None:
    """A one-day certificate for 127.0.0.1, made with `cryptography` (already a dependency of azure-identity)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
