"""CURVE encryption and authentication for every ZeroMQ socket (pyzmq's zmq.auth).

A keys directory, made by ``tetherfocus keys init DIR``::

    DIR/node.key, DIR/node.key_secret              the nodes' key pair
    DIR/controller.key, DIR/controller.key_secret  the controller's
    DIR/viewer.key, DIR/viewer.key_secret          the viewer's
    DIR/authorized/*.key                           public certificates of the clients that
                                                   nodes and the controller accept

Every process takes ``--keys DIR``.  With it, servers (PUB and command sockets) are CURVE
servers and accept only clients whose public key is in ``DIR/authorized/`` (checked by a ZAP
handler); clients are CURVE clients that know the server's public key.  An unknown key can
neither send a command nor subscribe to frames: its handshake is refused.

Errors: :func:`load_security` and :func:`init_keys` raise
:class:`tetherfocus.errors.UsageError` with one line.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.auth

from tetherfocus.errors import UsageError

ROLES = ("node", "controller", "viewer")
# which servers a role's sockets connect to, for the server key a client needs
_SERVER_OF = {"node": "node", "controller": "controller"}


def init_keys(directory: str | Path, *, force: bool = False) -> list[Path]:
    """Create the key pairs and the authorized/ folder.  Returns the files written."""
    d = Path(directory)
    if (d / "node.key_secret").exists() and not force:
        raise UsageError(f"{d} already holds keys; pass --force to replace them")
    d.mkdir(parents=True, exist_ok=True)
    auth = d / "authorized"
    auth.mkdir(exist_ok=True)
    written: list[Path] = []
    for role in ROLES:
        public, secret = zmq.auth.create_certificates(str(d), role)
        Path(secret).chmod(0o600)
        written += [Path(public), Path(secret)]
    for role in ("controller", "viewer", "node"):
        dst = auth / f"{role}.key"
        shutil.copyfile(d / f"{role}.key", dst)
        written.append(dst)
    return written


@dataclass(frozen=True)
class Security:
    """The key material of one process (``role``), able to secure its sockets."""

    directory: Path
    role: str
    public: bytes
    secret: bytes

    @property
    def authorized(self) -> Path:
        return self.directory / "authorized"

    def server_public(self, server_role: str) -> bytes:
        public, _ = zmq.auth.load_certificate(str(self.directory / f"{server_role}.key"))
        return public

    def apply_server(self, sock: zmq.Socket[Any]) -> None:
        """Make ``sock`` a CURVE server (call before bind)."""
        sock.curve_secretkey = self.secret
        sock.curve_publickey = self.public
        sock.curve_server = True

    def client_for(self, server_role: str) -> ClientSecurity:
        """What a client socket of this process needs to reach a ``server_role`` server."""
        return ClientSecurity(self, self.server_public(server_role))

    def start_authenticator(self, ctx: zmq.Context[Any]) -> Any:
        """Start a ZAP handler on ``ctx`` that accepts only the authorized public keys."""
        from zmq.auth.thread import ThreadAuthenticator

        auth = ThreadAuthenticator(ctx)
        auth.start()
        auth.configure_curve(domain="*", location=str(self.authorized))
        return auth


@dataclass(frozen=True)
class ClientSecurity:
    own: Security
    server_key: bytes

    def apply_client(self, sock: zmq.Socket[Any]) -> None:
        sock.curve_secretkey = self.own.secret
        sock.curve_publickey = self.own.public
        sock.curve_serverkey = self.server_key


def load_security(directory: str | Path | None, role: str) -> Security | None:
    """The keys of ``role`` in ``directory``; None when no directory is given."""
    if directory is None:
        return None
    if role not in ROLES:
        raise ValueError(role)
    d = Path(directory)
    secret_file = d / f"{role}.key_secret"
    if not secret_file.exists():
        raise UsageError(
            f"--keys {d}: no {secret_file.name} there; make keys with 'tetherfocus keys init {d}'"
        )
    if not (d / "authorized").is_dir():
        raise UsageError(f"--keys {d}: no authorized/ folder of accepted public keys")
    try:
        public, secret = zmq.auth.load_certificate(str(secret_file))
    except Exception as exc:
        raise UsageError(f"--keys {d}: cannot read {secret_file.name}: {exc}") from None
    if secret is None:
        raise UsageError(f"--keys {d}: {secret_file.name} holds no secret key")
    return Security(d, role, public, secret)


def register(sub: Any) -> None:
    p = sub.add_parser("keys", help="make CURVE keys that encrypt and authenticate every socket")
    ks = p.add_subparsers(dest="keys_command", metavar="ACTION")
    ks.required = True
    i = ks.add_parser("init", help="create node, controller and viewer key pairs in DIR")
    i.add_argument("dir", help="the keys directory to create")
    i.add_argument("--force", action="store_true", help="replace existing keys")
    i.set_defaults(func=_init)


def _init(args: Any) -> int:
    try:
        written = init_keys(args.dir, force=args.force)
    except OSError as exc:
        raise UsageError(f"keys init {args.dir}: cannot write there ({exc.strerror or exc})") from None
    for path in written:
        print(path)
    return 0
