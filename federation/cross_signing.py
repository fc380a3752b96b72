"""The bot's cross-signing identity: a master key, a self-signing key, its device signed.

Current Element ("exclude insecure devices", MSC4153) neither reads nor
shares room keys with a device its owner has not signed. matrix-nio has no
cross-signing (nio issue #229), so the few steps are done here on top of it,
with signedjson (Ed25519 over Matrix's canonical JSON, as for alerts):

- two Ed25519 keys, their 32-byte seeds kept in DATA/matrix/cross-signing.json
  (0600, written before anything is uploaded, backed up with the crypto
  store); no user-signing key: the bot never verifies anyone;
- the public keys uploaded with /keys/device_signing/upload, the
  self-signing key signed by the master key. A first upload needs no
  password (MSC3967); replacing another identity needs user-interactive
  auth with the bot's password (`vecinos matrix setup --password-stdin`);
- the bot's device, as the homeserver publishes it, signed by the
  self-signing key and sent with /keys/signatures/upload, but only after
  checking that its keys are this device's own (a homeserver cannot get a
  key of its choosing signed).

Rules: a seed is never logged or printed, and never replaced by a start:
only `vecinos matrix setup`, given the password, replaces an identity the
homeserver holds (members then see that the bot's identity changed).
`identity_status` is pure: `vecinos status` and the bot read the same facts.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signedjson.key import (
    decode_signing_key_base64,
    decode_verify_key_base64,
    encode_signing_key_base64,
    generate_signing_key,
    get_verify_key,
)
from signedjson.sign import SignatureVerifyException, sign_json, verify_signed_json

__all__ = [
    "IDENTITY_FILE",
    "CrossSigningError",
    "CrossSigningKeys",
    "IdentityStatus",
    "PasswordNeeded",
    "ensure_identity",
    "fingerprint",
    "identity_status",
]

IDENTITY_FILE = "cross-signing.json"
DEVICE_SIGNING_UPLOAD = "/_matrix/client/v3/keys/device_signing/upload"
SIGNATURES_UPLOAD = "/_matrix/client/v3/keys/signatures/upload"
KEYS_QUERY = "/_matrix/client/v3/keys/query"

Request = Callable[[str, dict[str, Any]], Awaitable[tuple[int, dict[str, Any]]]]
"""request(path, body) -> (HTTP status, JSON body): a POST with the bot's access token."""


class CrossSigningError(RuntimeError):
    """The identity could not be set up or checked (worded for the operator)."""


class PasswordNeeded(CrossSigningError):
    """The homeserver asks for the bot's password (it holds another identity)."""


def fingerprint(key_b64: str) -> str:
    """A public key as Element shows keys: unpadded base64 in groups of four."""
    return " ".join(key_b64[i : i + 4] for i in range(0, len(key_b64), 4))


def _write_private(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _key(seed_b64: str) -> Any:
    """A signedjson SigningKey whose key id is its own public key (cross-signing's rule)."""
    probe = decode_signing_key_base64("ed25519", "x", seed_b64)
    public = base64.b64encode(bytes(get_verify_key(probe))).decode().rstrip("=")
    return decode_signing_key_base64("ed25519", public, seed_b64)


@dataclass(frozen=True)
class CrossSigningKeys:
    """The bot's master and self-signing keys (private: keep in DATA/matrix only)."""

    user_id: str
    master_seed: str  # unpadded base64 of the 32-byte Ed25519 seed
    self_signing_seed: str

    def __repr__(self) -> str:  # never print a seed by accident
        return f"CrossSigningKeys({self.user_id}, master {self.master_public})"

    @classmethod
    def generate(cls, user_id: str) -> CrossSigningKeys:
        return cls(
            user_id,
            encode_signing_key_base64(generate_signing_key("new")),
            encode_signing_key_base64(generate_signing_key("new")),
        )

    @classmethod
    def load(cls, matrix_dir: Path, user_id: str) -> CrossSigningKeys | None:
        """The saved keys, or None if there are none. A bad file raises: never replace it."""
        path = Path(matrix_dir) / IDENTITY_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            keys = cls(raw["user_id"], raw["master_seed"], raw["self_signing_seed"])
            keys.master_public  # noqa: B018 - the seeds must decode
            keys.self_signing_public  # noqa: B018
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CrossSigningError(
                f"{path} is unreadable ({type(e).__name__}): restore it from the backup"
            ) from None
        if keys.user_id != user_id:
            raise CrossSigningError(f"{path} belongs to {keys.user_id}, not {user_id}")
        return keys

    def save(self, matrix_dir: Path) -> None:
        _write_private(
            Path(matrix_dir) / IDENTITY_FILE,
            {
                "user_id": self.user_id,
                "master_seed": self.master_seed,
                "self_signing_seed": self.self_signing_seed,
            },
        )

    @property
    def master_public(self) -> str:
        return str(_key(self.master_seed).version)

    @property
    def self_signing_public(self) -> str:
        return str(_key(self.self_signing_seed).version)

    def upload_body(self) -> dict[str, Any]:
        """The body of /keys/device_signing/upload: master key, self-signing key signed by it."""
        master = self.master_public
        ssk = self.self_signing_public
        ssk_object = {
            "user_id": self.user_id,
            "usage": ["self_signing"],
            "keys": {f"ed25519:{ssk}": ssk},
        }
        return {
            "master_key": {
                "user_id": self.user_id,
                "usage": ["master"],
                "keys": {f"ed25519:{master}": master},
            },
            "self_signing_key": sign_json(ssk_object, self.user_id, _key(self.master_seed)),
        }

    def sign_device(self, device: dict[str, Any]) -> dict[str, Any]:
        """The device's keys object with only the self-signing key's signature (for upload)."""
        bare = {k: v for k, v in device.items() if k not in ("signatures", "unsigned")}
        return sign_json(bare, self.user_id, _key(self.self_signing_seed))


@dataclass(frozen=True)
class IdentityStatus:
    """What the homeserver publishes about the bot's identity, checked against its keys."""

    master: str | None  # the published master key (unpadded base64), if any
    ours: bool  # the published master and self-signing keys are the saved ones
    device_signed: bool  # the device carries a valid signature of the published SSK
    device_published: bool
    device_key: str | None = None  # its ed25519 ("session") key, once signed by ours

    @property
    def ok(self) -> bool:
        return self.ours and self.device_signed


def _single_key(obj: Any, usage: str, user_id: str) -> str | None:
    if not isinstance(obj, dict) or obj.get("user_id") != user_id:
        return None
    if usage not in (obj.get("usage") or []):
        return None
    keys = obj.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        return None
    [(key_id, value)] = keys.items()
    if not isinstance(value, str) or key_id != f"ed25519:{value}":
        return None
    return value


def _verifies(obj: dict[str, Any], user_id: str, public: str) -> bool:
    try:
        verify_signed_json(obj, user_id, decode_verify_key_base64("ed25519", public, public))
    except (SignatureVerifyException, ValueError, TypeError, KeyError):
        return False
    return True


def identity_status(
    query: dict[str, Any],
    user_id: str,
    device_id: str,
    keys: CrossSigningKeys | None,
) -> IdentityStatus:
    """Read a /keys/query answer for the bot: whose identity, and is the device signed by it."""
    master_obj = (query.get("master_keys") or {}).get(user_id)
    ssk_obj = (query.get("self_signing_keys") or {}).get(user_id)
    master = _single_key(master_obj, "master", user_id)
    ssk = _single_key(ssk_obj, "self_signing", user_id)
    chain = master is not None and ssk is not None and _verifies(ssk_obj, user_id, master)
    ours = (
        chain
        and keys is not None
        and master == keys.master_public
        and ssk == keys.self_signing_public
    )
    device = ((query.get("device_keys") or {}).get(user_id) or {}).get(device_id)
    signed = bool(chain and isinstance(device, dict) and _verifies(device, user_id, ssk or ""))
    key = None
    if ours and signed and isinstance(device, dict):  # vouched for by our own signature
        found = (device.get("keys") or {}).get(f"ed25519:{device_id}")
        key = found if isinstance(found, str) else None
    return IdentityStatus(master, bool(ours), signed, isinstance(device, dict), key)


async def query_own_keys(request: Request, user_id: str) -> dict[str, Any]:
    status, body = await request(KEYS_QUERY, {"device_keys": {user_id: []}})
    if status != 200:
        raise CrossSigningError(f"the homeserver did not give the bot's keys (HTTP {status})")
    return body


async def _upload_keys(
    request: Request, keys: CrossSigningKeys, password: str | None, *, replacing: bool
) -> None:
    body = keys.upload_body()
    status, answer = await request(DEVICE_SIGNING_UPLOAD, body)
    if status == 200:
        return
    if status != 401 or "flows" not in answer:
        raise CrossSigningError(f"cross-signing keys refused (HTTP {status})")
    if not password and replacing:
        raise PasswordNeeded(
            "the homeserver holds another cross-signing identity for the bot; to replace it, "
            "run `vecinos matrix setup ... --password-stdin` with the bot's password "
            "(members will see that the bot's identity changed)"
        )
    if not password:  # a homeserver older than MSC3967 asks even the first time
        raise PasswordNeeded(
            "the homeserver asks for the bot's password to publish its cross-signing keys: "
            "run `vecinos matrix setup ... --password-stdin` once"
        )
    flows = [f.get("stages", []) for f in answer.get("flows", []) if isinstance(f, dict)]
    if ["m.login.password"] not in flows:
        raise CrossSigningError("the homeserver offers no password login for this step")
    body["auth"] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": keys.user_id},
        "password": password,
        "session": answer.get("session"),
    }
    status, _ = await request(DEVICE_SIGNING_UPLOAD, body)
    if status != 200:
        raise CrossSigningError(f"cross-signing keys refused after the password (HTTP {status})")


async def ensure_identity(
    request: Request,
    matrix_dir: Path,
    user_id: str,
    device_id: str,
    identity_keys: dict[str, str],
    *,
    password: str | None = None,
) -> IdentityStatus:
    """Make the bot's identity the saved one (made now if none is) and its device signed.

    `identity_keys` are the device's own ed25519 and curve25519 keys (from
    its Olm account): the published device is signed only if it has exactly
    these. Raises CrossSigningError (PasswordNeeded when the homeserver holds
    another identity and no password was given).
    """
    keys = CrossSigningKeys.load(matrix_dir, user_id)
    query = await query_own_keys(request, user_id)
    state = identity_status(query, user_id, device_id, keys)
    if state.ok:
        return state
    if keys is None:
        if state.master is not None and not password:
            raise PasswordNeeded(
                "the homeserver holds a cross-signing identity for the bot whose keys are not "
                f"in {Path(matrix_dir) / IDENTITY_FILE} (restore it from the backup, or run "
                "`vecinos matrix setup ... --password-stdin` to make a new one: members will "
                "see that the bot's identity changed)"
            )
        keys = CrossSigningKeys.generate(user_id)
        keys.save(matrix_dir)  # before any upload: a published key is never lost
    if not state.ours:
        await _upload_keys(request, keys, password, replacing=state.master is not None)
        query = await query_own_keys(request, user_id)
        state = identity_status(query, user_id, device_id, keys)
        if not state.ours:
            raise CrossSigningError("the homeserver does not publish the uploaded keys")
    if not state.device_signed:
        device = query["device_keys"].get(user_id, {}).get(device_id)
        if not isinstance(device, dict):
            raise CrossSigningError(f"device {device_id} has no published keys yet")
        want = {f"ed25519:{device_id}": identity_keys["ed25519"]}
        want[f"curve25519:{device_id}"] = identity_keys["curve25519"]
        if device.get("keys") != want or device.get("device_id") != device_id:
            raise CrossSigningError(
                f"the keys published for device {device_id} are not this device's: not signed"
            )
        signed = keys.sign_device(device)
        status, answer = await request(SIGNATURES_UPLOAD, {user_id: {device_id: signed}})
        if status != 200 or answer.get("failures"):
            raise CrossSigningError(f"the device signature was refused (HTTP {status})")
        state = identity_status(await query_own_keys(request, user_id), user_id, device_id, keys)
        if not state.device_signed:
            raise CrossSigningError("the homeserver does not publish the device's signature")
    return state
