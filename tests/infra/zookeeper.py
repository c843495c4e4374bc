"""Real ZooKeeper servers for tests and benchmarks: Debian's package, started as plain JVMs.

`ZooKeeperServer` runs one standalone server; `ZooKeeperEnsemble` runs three quorum members on
127.0.0.1 with `kill(node)` / `start(node)` / `leader()` for failover tests. Every server binds
127.0.0.1 only (client, quorum and election ports), has the AdminServer off, a `*` 4lw whitelist,
and a super digest user (`SUPER_USER` / `SUPER_PASSWORD`) so tests can read every ACL unredacted.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

JAVA_CLASSPATH = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
]
NETTY_CLASSPATH = [  # the Netty connection factory (needed for TLS); Debian's manifest omits some
    f"/usr/share/java/netty-{name}.jar"
    for name in (
        "codec", "resolver", "handler", "buffer", "transport", "common",
        "transport-native-epoll", "transport-native-unix-common",
    )
]  # fmt: skip
SUPER_USER = "super"
SUPER_PASSWORD = "zkstash-test-super"
START_TIMEOUT = 30.0

LOG4J_PROPERTIES = """\
log4j.rootLogger=WARN, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=${zk.log.file}
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d %-5p [%t] %c{1}: %m%n
"""


def super_digest(user: str, password: str) -> str:
    """ZooKeeper's digest form `user:base64(sha1(user:password))` for the superDigest property."""
    raw = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(raw).decode()}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_test_certificates(directory: Path) -> Path:
    """A throw-away CA and a server certificate for 127.0.0.1 (openssl), as PEM files:
    ca.pem, and server-keystore.pem (key + certificate)."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=zkstash test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=127.0.0.1")  # fmt: skip
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2",
            "-extfile", "san.cnf")  # fmt: skip
    keystore = (directory / "server.key").read_text() + (directory / "server.pem").read_text()
    (directory / "server-keystore.pem").write_text(keystore)
    return directory


def make_client_certificate(directory: Path, name: str = "zkstash-client") -> tuple[Path, Path]:
    """A client certificate signed by the test CA in `directory` (made by
    `make_test_certificates`), for servers with ssl.clientAuth=need: (certificate, key) PEM."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", f"/CN={name}")  # fmt: skip
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2")  # fmt: skip
    return directory / f"{name}.pem", directory / f"{name}.key"


def four_letter_word(port: int, command: str, timeout: float = 2.0) -> str:
    """Send a 4lw command to 127.0.0.1:port and return the reply ('' when unreachable)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(command.encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def server_mode(port: int) -> str | None:
    """'standalone', 'leader' or 'follower' when the server is serving requests, else None."""
    for line in four_letter_word(port, "srvr").splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


@dataclass
class _Node:
    """One JVM: its config directory, client port and process."""

    conf_dir: Path
    client_port: int
    heap: str = "512m"
    jvm_properties: dict[str, str] = field(default_factory=dict)
    extra_classpath: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None

    def start(self) -> None:
        conf = self.conf_dir
        classpath = ":".join([str(conf), *JAVA_CLASSPATH, *self.extra_classpath])
        command = [
            "java",
            f"-Xmx{self.heap}",
            "-Dzookeeper.jmx.log4j.disable=true",
            f"-Dlog4j.configuration=file:{conf}/log4j.properties",
            f"-Dzk.log.file={conf}/zk.log",
            "-Dzookeeper.DigestAuthenticationProvider.superDigest="
            + super_digest(SUPER_USER, SUPER_PASSWORD),
            *(f"-D{key}={value}" for key, value in self.jvm_properties.items()),
            "-cp",
            classpath,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(conf / "zoo.cfg"),
        ]
        with open(conf / "stdout.log", "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pause(self) -> None:
        """SIGSTOP the JVM: it keeps its sockets but answers nothing (a frozen host)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT a paused JVM."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


def _write_config(conf_dir: Path, client_port: int, extra: dict[str, str]) -> None:
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "data").mkdir(exist_ok=True)
    settings = {
        "tickTime": "2000",
        "dataDir": str(conf_dir / "data"),
        "clientPort": str(client_port),
        "clientPortAddress": "127.0.0.1",
        "maxClientCnxns": "0",
        "4lw.commands.whitelist": "*",
        "admin.enableServer": "false",
        "autopurge.purgeInterval": "0",
        **extra,
    }
    lines = [f"{key}={value}" for key, value in settings.items()]
    (conf_dir / "zoo.cfg").write_text("\n".join(lines) + "\n")
    (conf_dir / "log4j.properties").write_text(LOG4J_PROPERTIES)


def _wait_serving(nodes: list[_Node], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [node for node in nodes if not node.running]
        if dead:
            log = (dead[0].conf_dir / "stdout.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"ZooKeeper in {dead[0].conf_dir} exited during start:\n{log}")
        if all(server_mode(node.client_port) for node in nodes):
            return
        time.sleep(0.1)
    raise RuntimeError(f"ZooKeeper did not start serving within {timeout:.0f} s")


@dataclass
class ZooKeeperServer:
    """A standalone ZooKeeper on 127.0.0.1 with its own temp data dir. Use as a context manager."""

    base_dir: Path | None = None
    extra_config: dict[str, str] = field(default_factory=dict)
    heap: str = "512m"
    sasl_users: dict[str, str] = field(default_factory=dict)
    tls: bool = False
    tls_port: int | None = None
    # ssl.clientAuth of the TLS port: "none", "want" or "need" (a client certificate required)
    tls_client_auth: str = "none"
    _node: _Node | None = None
    _owns_dir: bool = False

    def start(self) -> ZooKeeperServer:
        """Start the server and wait until `srvr` reports it serving."""
        if self.base_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="zkstash-zk-"))
            self._owns_dir = True
        port = free_port()
        extra, properties = dict(self.extra_config), {}
        if self.sasl_users:
            # SASL DIGEST-MD5 with these users (JAAS DigestLoginModule), next to digest auth
            jaas = self.base_dir / "jaas.conf"
            users = " ".join(f'user_{u}="{p}"' for u, p in self.sasl_users.items())
            jaas.write_text(
                "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required "
                f"{users};\n}};\n"
            )
            extra["authProvider.sasl"] = (
                "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
            )
            properties["java.security.auth.login.config"] = str(jaas)
        classpath = []
        if self.tls:
            # a second, TLS-only client port with a certificate from a throw-away test CA
            self.tls_port = free_port()
            extra.update(self._tls_config(make_test_certificates(self.base_dir / "tls")))
            classpath = NETTY_CLASSPATH
        _write_config(self.base_dir, port, extra)
        self._node = _Node(self.base_dir, port, self.heap, properties, classpath)
        self._node.start()
        _wait_serving([self._node])
        return self

    def _tls_config(self, certificates: Path) -> dict[str, str]:
        return {
            "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
            "secureClientPort": str(self.tls_port),
            "secureClientPortAddress": "127.0.0.1",
            "ssl.keyStore.location": str(certificates / "server-keystore.pem"),
            "ssl.keyStore.type": "PEM",
            "ssl.trustStore.location": str(certificates / "ca.pem"),
            "ssl.trustStore.type": "PEM",
            "ssl.clientAuth": self.tls_client_auth,
        }

    @property
    def ca_file(self) -> str:
        """The test CA (PEM) that signed the TLS port's certificate."""
        assert self.base_dir is not None
        return str(self.base_dir / "tls" / "ca.pem")

    def stop(self) -> None:
        """Stop the JVM and remove the temp directory this object created."""
        if self._node is not None:
            self._node.stop()
        if self._owns_dir and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP) so its clients time out; `resume()` thaws it."""
        assert self._node is not None, "server not started"
        self._node.pause()

    def resume(self) -> None:
        """Thaw a paused server (SIGCONT)."""
        assert self._node is not None, "server not started"
        self._node.resume()

    @property
    def port(self) -> int:
        assert self._node is not None, "server not started"
        return self._node.client_port

    @property
    def hosts(self) -> str:
        """The connection string, `127.0.0.1:<port>`."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> ZooKeeperServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class ZooKeeperEnsemble:
    """Three quorum members on 127.0.0.1; `kill(i)` SIGKILLs member i, `start(i)` revives it."""

    size: int = 3
    base_dir: Path | None = None
    nodes: list[_Node] = field(default_factory=list)
    _owns_dir: bool = False

    def start_all(self) -> ZooKeeperEnsemble:
        """Write the configs, start every member and wait until all serve."""
        if self.base_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="zkstash-ens-"))
            self._owns_dir = True
        ports = [(free_port(), free_port(), free_port()) for _ in range(self.size)]
        servers = {
            f"server.{i + 1}": f"127.0.0.1:{quorum}:{election}"
            for i, (_, quorum, election) in enumerate(ports)
        }
        timing = {"tickTime": "500", "initLimit": "20", "syncLimit": "10"}
        for i, (client, _, _) in enumerate(ports):
            conf = self.base_dir / f"n{i + 1}"
            _write_config(conf, client, {**timing, **servers})
            (conf / "data" / "myid").write_text(f"{i + 1}\n")
            self.nodes.append(_Node(conf, client))
        for node in self.nodes:
            node.start()
        _wait_serving(self.nodes)
        return self

    @property
    def hosts(self) -> str:
        """Connection string listing every member."""
        return ",".join(f"127.0.0.1:{node.client_port}" for node in self.nodes)

    def leader(self) -> int:
        """Index of the member that reports `Mode: leader` (waits for an election)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for i, node in enumerate(self.nodes):
                if node.running and server_mode(node.client_port) == "leader":
                    return i
            time.sleep(0.1)
        raise RuntimeError("no ZooKeeper leader elected")

    def kill(self, index: int) -> None:
        """SIGKILL one member (a crash, no clean shutdown)."""
        self.nodes[index].stop(signal.SIGKILL)

    def start(self, index: int) -> None:
        """Restart a killed member and wait until it serves again."""
        self.nodes[index].start()
        _wait_serving([self.nodes[index]])

    def stop(self) -> None:
        """Stop every member and remove the temp directory this object created."""
        for node in self.nodes:
            node.stop()
        if self._owns_dir and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> ZooKeeperEnsemble:
        return self.start_all()

    def __exit__(self, *exc: object) -> None:
        self.stop()
