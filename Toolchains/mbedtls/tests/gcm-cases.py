#!/usr/bin/python3
"""Writes AES-GCM cases for gcm-test.c, with OpenSSL's answers.

    gcm-cases.py COUNT SEED > cases.txt

One case a line: key iv aad plaintext ciphertext tag chunks (hex; "-" empty).
Ciphertext and tag come from OpenSSL through python3-cryptography, which takes
IVs of 8 to 128 bytes; for other IV lengths the ciphertext is "?" (gcm-test
then holds our GCM to mbedTLS 2.28's gcm.c alone) and the tag field is only
its length in zero bytes. The chunks follow mbedTLS 2.28's rule (multiples of
16 but the last) so the result must equal OpenSSL's one-shot answer.

Besides random cases: IVs chosen so that the 32-bit block counter wraps
within the text (GCM increments only the last 32 bits of the counter block),
found with GHASH worked out here and checked against OpenSSL before use.
"""
import random
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

R = 0xE1 << 120


def gf_mul(x, y):
    """GF(2^128) product in GCM's bit order (SP 800-38D, algorithm 1)."""
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ R if v & 1 else v >> 1
    return z


def gf_inv(x):
    """x^(2^128 - 2)"""
    result, power, e = 1 << 127, x, (1 << 128) - 2  # 1 << 127 is the field's 1
    while e:
        if e & 1:
            result = gf_mul(result, power)
        power = gf_mul(power, power)
        e >>= 1
    return result


def aes_block(key, block):
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def wrapping_iv(key, rnd):
    """A 16-byte IV whose J0 ends in a counter a few blocks before 2^32."""
    h = int.from_bytes(aes_block(key, bytes(16)), "big")
    h_inv = gf_inv(h)
    length_block = 128  # 0^64 || [len(IV) in bits]_64, for a 16-byte IV
    j0 = (rnd.getrandbits(96) << 32) | (0xFFFFFFFF - rnd.randrange(0, 6))
    iv = gf_mul(gf_mul(j0, h_inv) ^ length_block, h_inv).to_bytes(16, "big")
    # Proof that this IV gives that J0: OpenSSL's first keystream block is E(inc32(J0)).
    first = (j0 & ~0xFFFFFFFF) | ((j0 + 1) & 0xFFFFFFFF)
    ks = aes_block(key, first.to_bytes(16, "big"))
    ct = AESGCM(key).encrypt(iv, bytes(16), None)[:16]
    assert ct == ks, "wrapping IV construction is wrong"
    return iv


def chunks_for(length, rnd):
    out, left = [], length
    while left > 0:
        c = 16 * rnd.randrange(0, 40)
        if c >= left or rnd.random() < 0.2:
            out.append(left)
            break
        out.append(c)
        left -= c
    return out or [0]


def text_length(rnd):
    r = rnd.random()
    if r < 0.05:
        return 0  # AAD alone (GMAC), or nothing at all
    if r < 0.5:
        return rnd.randrange(0, 300)
    if r < 0.9:
        return rnd.randrange(0, 4200)
    return rnd.randrange(4200, 17000)  # up to a 16 KiB TLS record and more


def case_line(key, iv, aad, pt, tag_len, chunks):
    if 8 <= len(iv) <= 128:
        sealed = AESGCM(key).encrypt(iv, pt, aad)
        ct, tag = sealed[:-16].hex() or "-", sealed[-16:][:tag_len].hex()
    else:
        ct, tag = "?", "00" * tag_len
    return " ".join([key.hex(), iv.hex(), aad.hex() or "-", pt.hex() or "-", ct, tag,
                     ",".join(str(c) for c in chunks)])


def main():
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    rnd = random.Random(seed)
    out = sys.stdout
    for i in range(count):
        key = rnd.randbytes(rnd.choice([16, 24, 32]))
        r = rnd.random()
        if r < 0.5:
            iv_len = 12
        elif r < 0.6:
            iv_len = rnd.randrange(1, 8)
        else:
            iv_len = rnd.randrange(8, 129)
        iv = rnd.randbytes(iv_len)
        aad = rnd.randbytes(rnd.choice([0, 13, rnd.randrange(0, 40), rnd.randrange(0, 600)]))
        pt = rnd.randbytes(text_length(rnd))
        tag_len = 16 if rnd.random() < 0.7 else rnd.randrange(4, 17)
        out.write(case_line(key, iv, aad, pt, tag_len, chunks_for(len(pt), rnd)) + "\n")
    # The counter wraps inside the text, in the 8-, 4- and 1-block loops alike.
    for i in range(max(8, count // 100)):
        key = rnd.randbytes(rnd.choice([16, 24, 32]))
        pt = rnd.randbytes(rnd.randrange(16, 400))
        out.write(case_line(key, wrapping_iv(key, rnd), rnd.randbytes(13), pt, 16,
                            chunks_for(len(pt), rnd)) + "\n")


if __name__ == "__main__":
    main()
