#!/usr/bin/python3
"""Checks one checkpoint signature and one inclusion proof of a transparency log by the published formats alone.

Written from the specifications, sharing no code with the log that produced the data (Sigillum's evidence log):

  c2sp.org/signed-note, "Format": a note is UTF-8 text ending in a newline, a blank line, then one or more lines
      "— <key name> <base64(key ID || signature)>" (U+2014 em dash); no control characters but newline; the signed
      text includes its final newline and is separated from the signatures by the LAST blank line.
  c2sp.org/signed-note, "Signatures": a signature counts only if its key name AND key ID both match the trusted key;
      others are ignored. A matching signature that fails rejects the note; no verified one rejects the note.
  c2sp.org/signed-note, "Ed25519 signatures": RFC 8032 Ed25519 over the note text;
      key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4], big-endian.
  c2sp.org/signed-note, "Verifier keys": "<key name>+<hex key ID>+<base64(0x01 || public key)>".
  c2sp.org/tlog-checkpoint, "Note text": origin (non-empty), tree size (decimal, no leading zeroes), base64 root hash
      of the RFC 6962 tree, then optional non-empty extension lines.
  RFC 9162 §2.1.1: leaf hash = SHA-256(0x00 || entry); interior node = SHA-256(0x01 || left || right).
  RFC 9162 §2.1.3.2: verifying an inclusion proof (the fn/sn walk, steps 1-5, followed step by step below).
  RFC 9162 §2.1.4.2: verifying a consistency proof between an older and a newer tree head (optional here).
  RFC 8785 §3.2 (JSON Canonicalization Scheme), only when the entry is given as a JSON record: the entry is then the
      record's canonical form (keys sorted by UTF-16 code units, no whitespace, ECMAScript strings and numbers).

Usage (flags, or one JSON file whose keys have the same names; binary values in JSON are base64):
  verify-evidence-log.py --vkey VKEY|FILE --checkpoint NOTE-FILE [--entry FILE|--record JSON-FILE --index N --proof JSON|FILE]
                         [--old-checkpoint NOTE-FILE --consistency JSON|FILE]
  verify-evidence-log.py --json FILE [--vkey VKEY|FILE]    {"vkey" (--vkey replaces it), "checkpoint" (note text),
                         "entry" (base64) or "record", "index", "proof", "oldCheckpoint", "consistency"}
  verify-evidence-log.py --note-only --vkey VKEY --checkpoint NOTE-FILE   (any signed note: signature only)
A proof is a JSON list of 32-byte hashes, each base64 or hex. Exit status: 0 valid, 1 invalid (stderr names the
part that failed: signature, checkpoint, inclusion, consistency), 2 bad input (or python3-cryptography missing).
"""
import argparse, base64, binascii, hashlib, json, os, re, sys


class Invalid(Exception): pass   # the data does not verify -> exit 1
class BadInput(Exception): pass  # the data cannot be read -> exit 2


def b64(s, what, error=BadInput):
    try: return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError, TypeError): raise error(f"{what}: not base64")


def hash32(s, what):
    raw = bytes.fromhex(s) if isinstance(s, str) and re.fullmatch(r"[0-9a-fA-F]{64}", s) else b64(s, what)
    if len(raw) != 32: raise BadInput(f"{what}: not a 32-byte hash")
    return raw


def sha256(*parts): return hashlib.sha256(b"".join(parts)).digest()
def node(left, right): return sha256(b"\x01", left, right)  # RFC 9162 §2.1.1


def jcs(v):  # RFC 8785 §3.2.2 for the values a record holds; numbers only where Python prints them as ECMAScript does
    if v is None or isinstance(v, bool): return json.dumps(v)
    if isinstance(v, int) and abs(v) <= 2 ** 53: return str(v)
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21: return str(int(v))
    if isinstance(v, float) and 1e-4 <= abs(v) < 1e16: return repr(v)  # shortest round-trip digits, no exponent
    if isinstance(v, str): return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list): return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))  # §3.2.3: by UTF-16 code units
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(v[k]) for k in keys) + "}"
    raise BadInput(f"record: the number {v!r} is beyond this short canonicalizer (give --entry instead)")


def canonical(record):
    try: return jcs(record).encode("utf-8")
    except UnicodeEncodeError: raise BadInput("record: a string is not valid Unicode")


def parse_vkey(vkey):  # signed-note "Verifier keys"
    parts = vkey.strip().split("+", 2)  # the base64 key may itself contain "+"
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]): raise BadInput("vkey: not <name>+<hex id>+<key>")
    name, key_id, key = parts[0], bytes.fromhex(parts[1]), b64(parts[2], "vkey")
    if not name or re.search(r"\s", name) or len(key) != 33 or key[0] != 0x01: raise BadInput("vkey: not an Ed25519 vkey")
    if sha256(name.encode(), b"\n", key)[:4] != key_id: raise BadInput("vkey: key ID does not match name and key")
    return name, key_id, key[1:]


def verify_note(note, vkey, label="signature"):  # signed-note "Format" and "Signatures"; returns the signed text
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    name, key_id, public = vkey
    try: text = note.decode("utf-8")
    except UnicodeDecodeError: raise Invalid(f"{label}: note is not UTF-8")
    if re.search(r"[\x00-\x09\x0b-\x1f]", text): raise Invalid(f"{label}: note has control characters")
    cut = text.rfind("\n\n")
    if cut < 0 or not text.endswith("\n"): raise Invalid(f"{label}: no blank line before signatures, or no final newline")
    body, found = text[:cut + 1], 0
    for line in text[cut + 2:-1].split("\n"):
        m = re.fullmatch(r"\u2014 (\S+) (\S+)", line)
        if not m: raise Invalid(f"{label}: malformed signature line {line!r}")
        sig = b64(m.group(2), f"{label} of {m.group(1)}", Invalid)  # a signed note that is not well formed
        if m.group(1) != name or sig[:4] != key_id: continue  # unknown key: ignored, as the spec requires
        found += 1
        try: Ed25519PublicKey.from_public_bytes(public).verify(sig[4:], body.encode())
        except InvalidSignature: raise Invalid(f"{label}: Ed25519 signature by {name}+{key_id.hex()} does not verify")
    if not found: raise Invalid(f"{label}: no signature by {name}+{key_id.hex()}")
    return body


def parse_checkpoint(body, label="checkpoint"):  # tlog-checkpoint "Note text"
    lines = body.split("\n")[:-1]
    if len(lines) < 3 or not all(lines): raise Invalid(f"{label}: fewer than 3 lines, or an empty line")
    if not re.fullmatch(r"0|[1-9][0-9]*", lines[1]): raise Invalid(f"{label}: tree size {lines[1]!r} is not decimal")
    root = b64(lines[2], f"{label}: root hash", Invalid)
    if len(root) != 32: raise Invalid(f"{label}: root hash is not base64 of 32 bytes")
    return lines[0], int(lines[1]), root


def verify_inclusion(index, size, leaf_hash, proof, root):  # RFC 9162 §2.1.3.2
    if index >= size: raise Invalid(f"inclusion: leaf index {index} is not below tree size {size}")  # step 1
    fn, sn, r = index, size - 1, leaf_hash                                                          # steps 2, 3
    for p in proof:                                                                                  # step 4
        if sn == 0: raise Invalid("inclusion: proof longer than the path from this index in this tree")  # 4a
        if fn & 1 or fn == sn:                                                                       # 4b
            r = node(p, r)
            while not fn & 1 and fn != 0: fn, sn = fn >> 1, sn >> 1
        else: r = node(r, p)
        fn, sn = fn >> 1, sn >> 1                                                                    # 4c
    if sn != 0: raise Invalid("inclusion: proof shorter than the path from this index in this tree")  # step 5
    if r != root: raise Invalid("inclusion: entry and proof do not lead to the checkpoint's root hash")


def verify_consistency(size1, root1, size2, root2, proof):  # RFC 9162 §2.1.4.2
    if size1 > size2: raise Invalid(f"consistency: old tree size {size1} is larger than new {size2}")
    if size1 == size2 or size1 == 0:  # same tree: roots equal, nothing to prove; the empty tree precedes any tree
        if proof or (size1 == size2 and root1 != root2): raise Invalid("consistency: same size, different roots or a proof")
        return
    if not proof: raise Invalid("consistency: empty proof")                                          # step 1
    if size1 & (size1 - 1) == 0: proof = [root1] + proof                                             # step 2
    fn, sn = size1 - 1, size2 - 1                                                                    # step 3
    while fn & 1: fn, sn = fn >> 1, sn >> 1                                                          # step 4
    fr = sr = proof[0]                                                                               # step 5
    for c in proof[1:]:                                                                              # step 6
        if sn == 0: raise Invalid("consistency: proof too long")
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0: fn, sn = fn >> 1, sn >> 1
        else: sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0: raise Invalid("consistency: proof too short")                                       # step 7
    if fr != root1: raise Invalid("consistency: proof does not lead to the old checkpoint's root hash")
    if sr != root2: raise Invalid("consistency: proof does not lead to the new checkpoint's root hash")


def read(value, what, binary=False):  # a file's content, or the value itself
    if value is None: return None
    if os.path.isfile(value):
        with open(value, "rb") as f: data = f.read()
        return data if binary else data.decode("utf-8", "replace")
    if binary: raise BadInput(f"{what}: no such file {value!r}")
    return value


def inputs(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag in ("--json", "--vkey", "--checkpoint", "--entry", "--record", "--index", "--proof", "--old-checkpoint", "--consistency"):
        ap.add_argument(flag)
    ap.add_argument("--note-only", action="store_true", help="verify the note signature only")
    a = ap.parse_args(argv)
    if a.json:
        try: j = json.loads(read(a.json, "json", True))
        except (ValueError, UnicodeDecodeError) as e: raise BadInput(f"json: {e}")
        if not isinstance(j, dict): raise BadInput("json: not an object")
        text = lambda k: j[k].encode() if isinstance(j.get(k), str) else None
        d = dict(vkey=read(a.vkey, "vkey") if a.vkey else j.get("vkey"), checkpoint=text("checkpoint"), old=text("oldCheckpoint"), index=j.get("index"),
                 entry=b64(j["entry"], "entry") if "entry" in j else canonical(j["record"]) if "record" in j else None,
                 proof=j.get("proof"), cons=j.get("consistency"))
    else:
        load = lambda v, w: json.loads(read(v, w)) if v is not None else None
        try:
            d = dict(vkey=read(a.vkey, "vkey"), checkpoint=read(a.checkpoint, "checkpoint", True), index=a.index,
                     old=read(a.old_checkpoint, "old-checkpoint", True), entry=read(a.entry, "entry", True),
                     proof=load(a.proof, "proof"), cons=load(a.consistency, "consistency"))
            if a.record is not None: d["entry"] = canonical(load(a.record, "record"))
        except ValueError as e: raise BadInput(f"proof, consistency or record: not JSON ({e})")
    if not isinstance(d["vkey"], str) or d["checkpoint"] is None: raise BadInput("need a vkey and a checkpoint")
    if (d["entry"] is None) != (d["proof"] is None) or (d["entry"] is not None and d["index"] is None):
        raise BadInput("an inclusion check needs entry, index and proof together")
    for k in ("proof", "cons"):
        if d[k] is not None:
            if not isinstance(d[k], list): raise BadInput(f"{k}: not a JSON list")
            d[k] = [hash32(h, f"{k}[{i}]") for i, h in enumerate(d[k])]
    if d["index"] is not None:
        if isinstance(d["index"], bool) or not re.fullmatch(r"[0-9]+", str(d["index"])):
            raise BadInput("index: not a non-negative integer")
        d["index"] = int(d["index"])
    return a.note_only, d


def main(argv):
    try:
        note_only, d = inputs(argv)
        try: import cryptography  # noqa: F401  (Debian: python3-cryptography)
        except ImportError: raise BadInput("needs python3-cryptography: apt-get install -y python3-cryptography")
        vkey = parse_vkey(d["vkey"])
        body = verify_note(d["checkpoint"], vkey)
        print(f"signature: valid, Ed25519 by {vkey[0]}+{vkey[1].hex()}")
        if note_only: print("VALID"); return 0
        origin, size, root = parse_checkpoint(body)
        differs = "" if origin == vkey[0] else f" (not the key name {vkey[0]}: the spec says SHOULD match)"
        print(f"checkpoint: origin {origin}{differs}, tree size {size}, root {base64.b64encode(root).decode()}")
        if d["entry"] is not None:
            verify_inclusion(d["index"], size, sha256(b"\x00", d["entry"]), d["proof"], root)
            print(f"inclusion: entry sha256:{hashlib.sha256(d['entry']).hexdigest()} is leaf {d['index']} of that tree")
        if d["old"] is not None:
            old_origin, old_size, old_root = parse_checkpoint(verify_note(d["old"], vkey, "old signature"), "old checkpoint")
            if old_origin != origin: raise Invalid(f"consistency: origins differ ({old_origin!r}, {origin!r})")
            verify_consistency(old_size, old_root, size, root, d["cons"] or [])
            print(f"consistency: the tree of size {old_size} is a prefix of the tree of size {size}")
        print("VALID")
        return 0
    except Invalid as e:
        print(f"INVALID: {e}", file=sys.stderr); return 1
    except BadInput as e:
        print(f"bad input: {e}", file=sys.stderr); return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
