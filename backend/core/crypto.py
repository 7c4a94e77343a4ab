"""The child's identity, sealed with AES-256-GCM.

Keys come from MUSUBI_IDENTITY_KEYS ("kid:base64key,kid2:base64key"); new records use the last
key listed, old ones name theirs (rotation: add a key, re-seal at leisure, drop the old one).
The associated data binds a ciphertext to its intake request, so a sealed identity copied onto
another placement row does not open.
"""

from __future__ import annotations

import base64
import os

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schema.shelters import ChildIdentity, ChildIdentityView

_encode = msgspec.json.Encoder()
_decode = msgspec.json.Decoder(ChildIdentityView)


def parse_keyring(spec: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for part in spec.split(","):
        key_id, _, encoded = part.strip().partition(":")
        key = base64.b64decode(encoded)
        if not key_id or len(key) != 32:
            raise ValueError("MUSUBI_IDENTITY_KEYS entries must be <key id>:<base64 of 32 bytes>")
        keys[key_id] = key
    if not keys:
        raise ValueError("MUSUBI_IDENTITY_KEYS is empty")
    return keys


def new_keyring_entry(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


class IdentityCipher:
    def __init__(self, keyring: dict[str, bytes]) -> None:
        self._keys = {key_id: AESGCM(key) for key_id, key in keyring.items()}
        self.current_key_id = list(keyring)[-1]

    @staticmethod
    def _associated_data(request_id: int) -> bytes:
        return f"musubi:intake-request:{request_id}".encode()

    def seal(self, identity: ChildIdentity, request_id: int) -> tuple[str, bytes, bytes]:
        nonce = os.urandom(12)  # 96-bit random nonce per record, never reused with a key
        view = ChildIdentityView(name=identity.name, birth_date=identity.birth_date, notes=identity.notes)
        ciphertext = self._keys[self.current_key_id].encrypt(
            nonce, _encode.encode(view), self._associated_data(request_id)
        )
        return self.current_key_id, nonce, ciphertext

    def open(self, key_id: str, nonce: bytes, ciphertext: bytes, request_id: int) -> ChildIdentityView:
        plaintext = self._keys[key_id].decrypt(nonce, ciphertext, self._associated_data(request_id))
        return _decode.decode(plaintext)
