"""Write ``fixtures/eigensdk_format.bls.key.json``: a BLS keystore made by hand, not by our code.

It follows the scheme eigensdk-go's ``KeyPair.SaveToFile`` uses (go-ethereum's ``EncryptDataV3``
with the standard scrypt parameters) using only the standard library's OpenSSL scrypt,
pycryptodome's AES, keccak and py_ecc for the public key, so that loading it tests our reader
against the documented format rather than against our own writer. Salt and iv are fixed so the
output is reproducible. Run from the repository root; the output is committed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from Crypto.Cipher import AES
from eth_hash.auto import keccak
from py_ecc.optimized_bn128 import optimized_curve

OUT = Path(__file__).parent / "fixtures" / "eigensdk_format.bls.key.json"
PASSWORD = "fixture password, not a secret"
SECRET = 0x2F4A1C3B5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F70
N, R, P, DKLEN = 262144, 8, 1, 32


def main() -> None:
    """Encrypt SECRET under PASSWORD and write the keystore JSON as Go would marshal it."""
    salt = keccak(b"fixture salt")
    iv = keccak(b"fixture iv")[:16]
    key = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=N, r=R, p=P, dklen=DKLEN, maxmem=2**29)
    ciphertext = AES.new(key[:16], AES.MODE_CTR, nonce=b"", initial_value=iv).encrypt(
        SECRET.to_bytes(32, "big")
    )
    x, y = optimized_curve.normalize(optimized_curve.multiply(optimized_curve.G1, SECRET))
    document = {
        "pubKey": f"E([{x.n},{y.n}])",
        "crypto": {
            "cipher": "aes-128-ctr",
            "ciphertext": ciphertext.hex(),
            "cipherparams": {"iv": iv.hex()},
            "kdf": "scrypt",
            "kdfparams": {"dklen": DKLEN, "n": N, "p": P, "r": R, "salt": salt.hex()},
            "mac": keccak(key[16:32] + ciphertext).hex(),
        },
    }
    OUT.write_text(json.dumps(document, separators=(",", ":")))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
