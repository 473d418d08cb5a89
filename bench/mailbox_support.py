"""A private Dovecot IMAP server on a free loopback port, with its own configuration, users and
mail folder, for the mailbox tests and benchmark. Needs the `dovecot` binary (dovecot-imapd)."""

from __future__ import annotations

import imaplib
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

HOST = "127.0.0.1"
USER, PASSWORD = "leads", "secret"
CONFIG = """protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/run
log_path = {dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{dir}/mail/%u
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={dir}/mail/%u
}}
"""


def dovecot_binary() -> str | None:
    """The dovecot binary on PATH or in /usr/sbin, or None."""
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class DovecotServer:
    """Start with `start()`, stop with `stop()`; `append` puts messages in a folder."""

    def __init__(self, *, use_ssl: bool = False) -> None:
        self.use_ssl = use_ssl
        self.binary = dovecot_binary()
        if self.binary is None:
            raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
        self.dir = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self.port = free_port()
        self.config = self.dir / "dovecot.conf"

    def start(self) -> DovecotServer:
        (self.dir / "run").mkdir()
        (self.dir / "mail").mkdir()
        (self.dir / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        config = CONFIG.format(dir=self.dir, port=self.port)
        if self.use_ssl:
            config = self._ssl_config(config)
        self.config.write_text(config)
        # The mail folder belongs to the dovecot user: a userdb uid of 0 is refused.
        shutil.chown(self.dir / "mail", "dovecot", "dovecot")
        self.dir.chmod(0o755)
        # Not capture_output: the daemon keeps inherited pipes open, so run() would never end.
        with open(self.dir / "start.log", "wb") as out:
            subprocess.run(
                [self.binary, "-c", str(self.config)], check=True, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.connect().logout()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on port {self.port}: {self.log()}")

    def _ssl_config(self, config: str) -> str:
        """IMAP over TLS only (imaps), with a throw-away certificate for 127.0.0.1."""
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-keyout", str(self.dir / "key.pem"), "-out", str(self.cert),
             "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        config = config.replace("ssl = no", f"ssl = required\nssl_cert = <{self.cert}\n"
                                f"ssl_key = <{self.dir / 'key.pem'}")  # fmt: skip
        return config.replace("inet_listener imap {", "inet_listener imaps {\n    ssl = yes")

    @property
    def cert(self) -> Path:
        """The server's self-signed certificate (the CA file a client must trust)."""
        return self.dir / "cert.pem"

    def stop(self) -> None:
        subprocess.run(
            [self.binary, "-c", str(self.config), "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def connect(self) -> imaplib.IMAP4:
        if self.use_ssl:
            context = ssl.create_default_context(cafile=str(self.cert))
            imap = imaplib.IMAP4_SSL(HOST, self.port, ssl_context=context, timeout=10)
        else:
            imap = imaplib.IMAP4(HOST, self.port, timeout=10)
        imap.login(USER, PASSWORD)
        return imap

    def settings(self, **overrides) -> dict:
        """IMAP_* settings pointing at this server."""
        return {
            "IMAP_HOST": HOST,
            "IMAP_PORT": self.port,
            "IMAP_USERNAME": USER,
            "IMAP_PASSWORD": PASSWORD,
            "IMAP_USE_SSL": self.use_ssl,
            "IMAP_SSL_CA_FILE": str(self.cert) if self.use_ssl else "",
            **overrides,
        }

    def append(self, messages: Iterable[bytes], folder: str = "INBOX") -> int:
        """IMAP APPEND each message; returns how many."""
        imap = self.connect()
        try:
            if folder != "INBOX":
                imap.create(f'"{folder}"')
            appended = 0
            for raw in messages:
                typ, data = imap.append(f'"{folder}"', None, None, raw)
                if typ != "OK":
                    raise RuntimeError(f"APPEND refused: {data!r}")
                appended += 1
            return appended
        finally:
            imap.logout()

    def flags(self, folder: str = "INBOX") -> dict[int, str]:
        """UID → the flags the message has."""
        imap = self.connect()
        try:
            imap.select(f'"{folder}"', readonly=True)
            typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS)")
            found = {}
            for line in data:
                if isinstance(line, bytes) and b"UID" in line:
                    text = line.decode()
                    uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                    found[uid] = text.split("FLAGS (")[1].split(")")[0]
            return found
        finally:
            imap.logout()

    def count(self, folder: str) -> int:
        imap = self.connect()
        try:
            typ, data = imap.select(f'"{folder}"', readonly=True)
            return int(data[0]) if typ == "OK" else -1
        finally:
            imap.logout()
