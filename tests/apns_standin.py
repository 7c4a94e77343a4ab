"""A local stand-in for Apple's APNs provider API: a real TLS server speaking HTTP/2 (h2).

It answers POST /3/device/<token> the way Apple documents: 200 with the apns-id echoed, or
an error status with a JSON body {"reason": …}. Tests script answers per token (e.g. 429
once, then 200), read back every request it recorded (headers, JWT, payload), and may stop
and restart it on the same port to simulate an outage.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
import tempfile
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, RequestReceived, StreamEnded

REASONS = {400: "BadDeviceToken", 403: "InvalidProviderToken", 410: "Unregistered", 429: "TooManyRequests",
           500: "InternalServerError", 503: "ServiceUnavailable"}  # fmt: skip


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    payload: dict[str, Any]

    @property
    def token(self) -> str:
        return self.path.rsplit("/", 1)[1]


def _self_signed_certificate() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "apns-standin.local")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tempfile.mkdtemp(prefix="apns-standin-")
    cert_path, key_path = f"{folder}/cert.pem", f"{folder}/key.pem"
    with open(cert_path, "wb") as out:
        out.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_path, key_path


@dataclass
class ApnsStandIn:
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    scripted: dict[str, deque[int]] = field(default_factory=lambda: defaultdict(deque))
    _server: asyncio.Server | None = None

    def __post_init__(self) -> None:
        self.cert_path, self.key_path = _self_signed_certificate()

    def answer(self, token: str, *statuses: int) -> None:
        """Answer the next requests for `token` with these statuses (then 200)."""
        self.scripted[token].extend(statuses)

    def client_ssl_context(self) -> ssl.SSLContext:
        """What a client needs to trust this server (instead of Apple's CA)."""
        return ssl.create_default_context(cafile=self.cert_path)

    async def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        context.set_alpn_protocols(["h2"])
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", self.port, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for protocol in list(_Connection.open_connections):
                protocol.abort()
            await self._server.wait_closed()
            self._server = None

    def respond_status(self, token: str) -> int:
        queue = self.scripted.get(token)
        return queue.popleft() if queue else 200


class _Connection(asyncio.Protocol):
    open_connections: ClassVar[set[_Connection]] = set()

    def __init__(self, standin: ApnsStandIn) -> None:
        self.standin = standin
        self.h2 = H2Connection(config=H2Configuration(client_side=False, header_encoding="utf-8"))
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, tuple[dict[str, str], bytearray]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.open_connections.add(self)
        self.h2.initiate_connection()
        transport.write(self.h2.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        self.open_connections.discard(self)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        for event in self.h2.receive_data(data):
            if isinstance(event, RequestReceived):
                self.streams[event.stream_id] = ({str(k): str(v) for k, v in event.headers}, bytearray())
            elif isinstance(event, DataReceived):
                self.streams[event.stream_id][1].extend(event.data)
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, StreamEnded):
                self._respond(event.stream_id)
        self.transport.write(self.h2.data_to_send())

    def _respond(self, stream_id: int) -> None:
        headers, body = self.streams.pop(stream_id)
        request = RecordedRequest(path=headers[":path"], headers=headers, payload=json.loads(body or b"{}"))
        self.standin.requests.append(request)
        status = self.standin.respond_status(request.token)
        apns_id = headers.get("apns-id", "")
        if status == 200:
            self.h2.send_headers(stream_id, [(":status", "200"), ("apns-id", apns_id)], end_stream=True)
            return
        reply = json.dumps({"reason": REASONS.get(status, "InternalServerError")}).encode()
        self.h2.send_headers(
            stream_id,
            [(":status", str(status)), ("apns-id", apns_id), ("content-type", "application/json"),
             ("content-length", str(len(reply)))],
        )  # fmt: skip
        self.h2.send_data(stream_id, reply, end_stream=True)
