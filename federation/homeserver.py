"""A real Synapse homeserver on loopback, started and stopped by our own code.

Used by the integration tests and the demo. It generates a Synapse config
with `--generate-config`, then rewrites it for a closed, private setup:
listeners bound to 127.0.0.1 only, SQLite, registration closed (accounts
are made with the shared-secret admin API), no key servers, no presence, no
URL previews, no stats, retention enabled, every rate limit raised, and no
outbound connection to anything but loopback. With `federating=True` it
adds a TLS federation listener with a self-signed certificate (made with
the `cryptography` library) so that two instances federate over 127.0.0.1.

Synapse runs as a child process in its own process group; `stop()` ends
that whole group (SIGTERM, then SIGKILL), and an atexit hook ends any group
a crashed test left behind.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

__all__ = [
    "Homeserver",
    "HomeserverError",
    "Registered",
    "free_port",
    "make_self_signed_cert",
    "register_account",
]

LOG_FILE = "homeserver.log"
STDIO_FILE = "synapse-stdio.log"
CONFIG_FILE = "homeserver.yaml"

# Generous limits: a chapter's bot is one busy account; tests create many
# rooms and logins in a few seconds. In production the homeserver admin
# exempts the bot with /_synapse/admin/v1/users/<user>/override_ratelimit.
_RATE = {"per_second": 1000, "burst_count": 10000}
_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _RATE,
    "rc_registration": _RATE,
    "rc_registration_token_validity": _RATE,
    "rc_login": {"address": _RATE, "account": _RATE, "failed_attempts": _RATE},
    "rc_admin_redaction": _RATE,
    "rc_joins": {"local": _RATE, "remote": _RATE},
    "rc_joins_per_room": _RATE,
    "rc_key_requests": _RATE,
    "rc_3pid_validation": _RATE,
    "rc_invites": {"per_room": _RATE, "per_user": _RATE, "per_issuer": _RATE},
    "rc_third_party_invite": _RATE,
    "rc_media_create": _RATE,
    "rc_presence": {"per_user": _RATE},
    "rc_delayed_event_mgmt": _RATE,
    "rc_room_creation": _RATE,
    "rc_reports": _RATE,
    "rc_user_directory": _RATE,
    "rc_profile": _RATE,
    "rc_federation": {
        "window_size": 1000,
        "sleep_limit": 10000,
        "sleep_delay": 0,
        "reject_limit": 10000,
        "concurrent": 100,
    },
}

# Every IPv4 range except loopback, and all of IPv6: Synapse may open
# outbound connections (federation, push) to 127.0.0.0/8 and nowhere else.
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
_NOT_LOOPBACK = [
    *sorted(str(n) for n in ipaddress.ip_network("0.0.0.0/0").address_exclude(_LOOPBACK)),
    "::/0",
]

_LIVE: dict[int, subprocess.Popen[bytes]] = {}


def _kill_leftovers() -> None:
    for pgid in list(_LIVE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        _LIVE.pop(pgid, None)


atexit.register(_kill_leftovers)


class HomeserverError(RuntimeError):
    """Synapse could not be configured, started, stopped or asked something."""


@dataclass(frozen=True)
class Registered:
    """An account made with the shared-secret admin API (it is already logged in)."""

    user_id: str
    access_token: str
    device_id: str


async def register_account(
    base_url: str, secret: str, username: str, password: str, admin: bool = False
) -> Registered:
    """Make an account on any Synapse with its registration_shared_secret.

    GET the nonce, then POST it with mac = HMAC-SHA1(secret, nonce NUL user
    NUL password NUL admin|notadmin). The answer is already logged in.
    """
    url = f"{base_url.rstrip('/')}/_synapse/admin/v1/register"
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.get(url) as resp:
            if resp.status != 200:
                raise HomeserverError(f"register nonce: HTTP {resp.status}")
            nonce = (await resp.json())["nonce"]
        mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, username, password):
            mac.update(part.encode("utf-8"))
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        body = {
            "nonce": nonce,
            "username": username,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        async with http.post(url, json=body) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200 or not isinstance(data, dict):
                errcode = data.get("errcode") if isinstance(data, dict) else None
                raise HomeserverError(f"register {username!r}: HTTP {resp.status} {errcode}")
    return Registered(data["user_id"], data["access_token"], data["device_id"])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_self_signed_cert(cert_path: Path, key_path: Path, *, days: int = 30) -> None:
    """Write a self-signed certificate for 127.0.0.1 (P-256) and its 0600 key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(key_path, key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no {path.name})"
    return "\n".join(text.splitlines()[-lines:])


class Homeserver:
    """One Synapse process on loopback, with its data in `data_dir`.

    `server_name` defaults to "localhost", or to "127.0.0.1:<federation_port>"
    when federating (the name other servers connect to, with no DNS).
    `federation_peers` limits federation to those server names (None: any,
    though outbound connections reach loopback only).
    """

    def __init__(
        self,
        data_dir: Path,
        server_name: str | None = None,
        port: int | None = None,
        *,
        federating: bool = False,
        federation_port: int | None = None,
        federation_peers: Sequence[str] | None = None,
        retention: bool = True,
        start_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.federating = federating
        existing = self._existing_settings()
        if existing is not None:
            # A configured data dir keeps its name and ports (restart, demo re-run).
            self.server_name, self.port, self.federation_port = existing
            asked = (server_name, port, federation_port)
            for want, have in zip(asked, existing, strict=True):
                if want is not None and want != have:
                    raise HomeserverError(
                        f"{self.config_path} is configured for {have!r}, not {want!r}"
                    )
            if federating != (self.federation_port is not None):
                raise HomeserverError(f"{self.config_path}: federating={not federating}")
        else:
            self.port = port or free_port()
            self.federation_port = (federation_port or free_port()) if federating else None
            if server_name is None:
                server_name = f"127.0.0.1:{self.federation_port}" if federating else "localhost"
            self.server_name = server_name
        self.federation_peers = list(federation_peers) if federation_peers is not None else None
        self.retention = retention
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._secret: str | None = None

    # -- paths and URLs ---------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_FILE

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The end of Synapse's log and of its stdout/stderr, for error messages."""
        return (
            f"--- {LOG_FILE} ---\n{_tail(self.log_path, lines)}\n"
            f"--- {STDIO_FILE} ---\n{_tail(self.data_dir / STDIO_FILE, lines)}"
        )

    @property
    def registration_secret(self) -> str:
        """The shared secret accounts are registered with (for `vecinos matrix setup`)."""
        if self._secret is None:
            raise HomeserverError("homeserver not started")
        return self._secret

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    # -- lifecycle --------------------------------------------------------

    async def start(self) -> None:
        """Configure (first time only), start, and wait until the client API answers."""
        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        if not self.config_path.exists():
            await self._generate_config()
        self._secret = self._read_secret()

        stdio = open(self.data_dir / STDIO_FILE, "ab")  # noqa: SIM115 - owned by the child
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=stdio,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        finally:
            stdio.close()
        _LIVE[self._proc.pid] = self._proc
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, wait, SIGKILL if it lingers. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        pgid = proc.pid
        try:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGTERM)
                try:
                    await asyncio.to_thread(proc.wait, timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pgid, signal.SIGKILL)
                    await asyncio.to_thread(proc.wait, 10)
            # Anything else in the group (there should be nothing).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        finally:
            _LIVE.pop(pgid, None)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def __aenter__(self) -> Homeserver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- accounts ---------------------------------------------------------

    async def register(self, username: str, password: str, admin: bool = False) -> Registered:
        """Make an account with the shared-secret admin API (HMAC-SHA1 over the nonce)."""
        if self._secret is None:
            raise HomeserverError("homeserver not started")
        return await register_account(self.base_url, self._secret, username, password, admin)

    # -- internals --------------------------------------------------------

    async def _generate_config(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "synapse.app.homeserver",
            "--server-name",
            self.server_name,
            "--config-path",
            str(self.config_path),
            "--data-directory",
            str(self.data_dir),
            "--generate-config",
            "--report-stats=no",
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise HomeserverError("synapse --generate-config timed out") from None
        except BaseException:  # cancelled (Ctrl-C during start-up): leave no child behind
            if proc.returncode is None:
                proc.kill()
                await asyncio.shield(proc.wait())
            raise
        if proc.returncode != 0:
            tail = "\n".join(out.decode(errors="replace").splitlines()[-20:])
            raise HomeserverError(f"synapse --generate-config failed:\n{tail}")
        self._rewrite_config()

    def _rewrite_config(self) -> None:
        d = self.data_dir
        config: dict[str, Any] = yaml.safe_load(self.config_path.read_text())
        log_config = d / "log.config.yaml"
        listeners: list[dict[str, Any]] = [
            {
                "port": self.port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ]
        config.update(
            {
                "server_name": self.server_name,
                "pid_file": str(d / "homeserver.pid"),
                "listeners": listeners,
                "database": {"name": "sqlite3", "args": {"database": str(d / "homeserver.db")}},
                "log_config": str(log_config),
                "media_store_path": str(d / "media_store"),
                "enable_registration": False,
                "registration_shared_secret": secrets.token_urlsafe(32),
                "report_stats": False,
                "enable_metrics": False,
                "trusted_key_servers": [],
                "suppress_key_server_warning": True,
                "presence": {"enabled": False},
                "url_preview_enabled": False,
                "user_directory": {"enabled": False},
                "push": {"include_content": False},
                "require_auth_for_profile_requests": True,
                "limit_profile_requests_to_users_who_share_rooms": True,
                "include_profile_data_on_invite": False,
                "allow_public_rooms_over_federation": False,
                "allow_public_rooms_without_auth": False,
                "retention": {"enabled": self.retention},
                "ip_range_blacklist": _NOT_LOOPBACK,
                "ip_range_whitelist": [str(_LOOPBACK)],
                **_RATE_LIMITS,
            }
        )
        if self.federating:
            cert, key = d / "federation.crt", d / "federation.key"
            make_self_signed_cert(cert, key)
            listeners.append(
                {
                    "port": self.federation_port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": True,
                    "x_forwarded": False,
                    "resources": [{"names": ["federation"], "compress": False}],
                }
            )
            config["tls_certificate_path"] = str(cert)
            config["tls_private_key_path"] = str(key)
            config["federation_verify_certificates"] = False
            if self.federation_peers is not None:
                config["federation_domain_whitelist"] = self.federation_peers
        else:
            config["federation_domain_whitelist"] = []
        _write_private(self.config_path, yaml.safe_dump(config, sort_keys=True).encode())
        log = {
            "version": 1,
            "formatters": {
                "precise": {
                    "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s"
                    " - %(request)s - %(message)s"
                }
            },
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "precise",
                    "filename": str(self.log_path),
                    "encoding": "utf8",
                }
            },
            "loggers": {"synapse.storage.SQL": {"level": "INFO"}},
            "root": {"level": "INFO", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
        _write_private(log_config, yaml.safe_dump(log).encode())
        for leftover in d.glob("*.log.config"):
            leftover.unlink()

    def _existing_settings(self) -> tuple[str, int, int | None] | None:
        """(server_name, client port, federation port) of an existing config."""
        if not self.config_path.exists():
            return None
        config = yaml.safe_load(self.config_path.read_text())
        client_port: int | None = None
        fed_port: int | None = None
        for listener in config.get("listeners", []):
            names = {n for r in listener.get("resources", []) for n in r.get("names", [])}
            if "client" in names:
                client_port = int(listener["port"])
            if "federation" in names:
                fed_port = int(listener["port"])
        if client_port is None:
            raise HomeserverError(f"{self.config_path} has no client listener")
        return str(config["server_name"]), client_port, fed_port

    def _read_secret(self) -> str:
        config = yaml.safe_load(self.config_path.read_text())
        secret = config.get("registration_shared_secret")
        if not isinstance(secret, str) or not secret:
            raise HomeserverError(f"no registration_shared_secret in {self.config_path}")
        return secret

    async def _wait_ready(self) -> None:
        assert self._proc is not None
        url = f"{self.base_url}/_matrix/client/versions"
        deadline = time.monotonic() + self.start_timeout
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                if self._proc.poll() is not None:
                    raise HomeserverError(
                        f"synapse exited with code {self._proc.returncode} while starting\n"
                        + self.log_tail()
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                    async with http.get(url) as resp:
                        if resp.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise HomeserverError(
                        f"synapse did not answer {url} within {self.start_timeout:.0f} s\n"
                        + self.log_tail()
                    )
                await asyncio.sleep(0.1)
