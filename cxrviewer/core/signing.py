"""Signed models: one manifest per shipped model covering its card and every file, signed with Ed25519.

A shipped model is `models/<name>.card.json`, the files it lists, and `models/<name>.signature.json`:

    {"schema": "cxrviewer.signature/1",
     "manifest": {"model": NAME, "card": {...the whole card...}, "files": [{path, role, sha256, size}...],
                  "signed": "2026-12-06T17:00:00Z"},
     "key_id": "<first 16 hex of sha256 of the raw public key>",
     "signature": "<base64 Ed25519 signature of the manifest's canonical JSON>"}

The manifest carries the whole card, not only its hash, so a refusal can say which field was edited
("card field thresholds is [0.1, 0.9]; the signed card says [0.48, 0.52]") instead of "checksum".
Canonical JSON: sorted keys, no whitespace, UTF-8, no NaN; the card is compared as parsed JSON, so
re-indenting a card is not an edit, changing a value is.

Only the shipping step signs (scripts/ship_model.py, with the release key kept outside the project in
../shared/release/); the package holds the public key (`resources/keys/`). A model without a signature
file is one a reader trained on this workstation: it runs, and everything that shows its answer says
"unsigned: trained on this workstation". A signature file that is present but does not verify, or
does not match the card and files beside it, refuses the model. Deleting the signature file of a
shipped model therefore turns it into "unsigned" in the reader's eyes, never into a signed model.

Signed or not, every model's files are also held to the sizes and sha256 its card lists
(`verify_card_files`, which `core.cards.load_card` and the runtime's registry call).

Pure: json, hashlib, base64 and `cryptography` (Ed25519); no Qt, torch or onnxruntime.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cxrviewer import paths
from cxrviewer.core.cards import CARD_SUFFIX, FileEntry, ModelCard, card_path, file_sha256
from cxrviewer.core.errors import ModelError
from cxrviewer.core.export.atomic import write_atomically

SIGNATURE_SCHEMA = "cxrviewer.signature/1"
SIGNATURE_SUFFIX = ".signature.json"
KEYS_FOLDER = "keys"  # under resources/: the public keys this program trusts (*.pub.pem)
UNSIGNED_TEXT = "unsigned: trained on this workstation"


@dataclass(frozen=True)
class Trust:
    """Whether a model is the release's, for the reader and for caches.

    signed: True when a trusted key's signature covers the card and every present file.
    digest: sha256 of the signed manifest (signed) or of the card file's bytes (unsigned); the
        known-answer verdict is cached under it, so any change to card or files means a new check.
    key_id: the signing key's id ("" when unsigned).
    """

    signed: bool
    digest: str
    key_id: str = ""

    @property
    def label(self) -> str:
        """What the findings, worklist and reports say of the model's origin."""
        return f"signed release model (key {self.key_id})" if self.signed else UNSIGNED_TEXT


def signature_path(models_dir: Path, name: str) -> Path:
    return Path(models_dir) / f"{name}{SIGNATURE_SUFFIX}"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def key_id(public_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def load_private_key(path: Path) -> Any:
    """The release key (PEM, unencrypted Ed25519), read only by the shipping step."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def trusted_keys() -> dict[str, Any]:
    """The public keys shipped in `resources/keys/`, by key id. Tests replace this function to
    trust a key they made themselves; nothing else widens it (no environment variable)."""
    folder = paths.resource(KEYS_FOLDER)
    keys = {}
    for pem in sorted(folder.glob("*.pub.pem")) if folder.is_dir() else ():
        key = load_public_key(pem)
        keys[key_id(key)] = key
    return keys


def _card_json(card_file: Path, model: str) -> dict[str, Any]:
    try:
        return json.loads(card_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(model, f"card {card_file.name} is not readable JSON ({error})") from error


def build_manifest(card: ModelCard, folder: Path, signed_at: datetime | None = None) -> dict[str, Any]:
    """The manifest of the model as it lies in `folder` now: its card and every listed file hashed."""
    folder = Path(folder)
    files = []
    for entry in card.files:
        target = folder / entry.path
        files.append({"path": entry.path, "role": entry.role, "sha256": file_sha256(target),
                      "size": target.stat().st_size})
    when = (signed_at or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"model": card.name, "card": _card_json(card_path(folder, card.name), card.name), "files": files,
            "signed": when}


def sign_model(card: ModelCard, folder: Path, private_key: Any) -> Path:
    """Write `<name>.signature.json` for the model in `folder` (after its card is final)."""
    manifest = build_manifest(card, folder)
    signature = private_key.sign(canonical_json(manifest))
    document = {"schema": SIGNATURE_SCHEMA, "manifest": manifest, "key_id": key_id(private_key.public_key()),
                "signature": base64.b64encode(signature).decode("ascii")}
    target = signature_path(folder, card.name)
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    write_atomically(target, lambda stream: stream.write(text.encode("utf-8")))
    return target


def verify_model(card: ModelCard, folder: Path, *, missing_ok: Sequence[str] = ()) -> Trust:
    """The model's trust, or ModelError naming the model and what does not match.

    `missing_ok`: roles whose file may be absent (the bundle leaves out the PyTorch weights); a file
    that is present is always checked.
    """
    folder = Path(folder)
    card_file = card_path(folder, card.name)
    sig_file = signature_path(folder, card.name)
    if not sig_file.is_file():
        return Trust(signed=False, digest=hashlib.sha256(card_file.read_bytes()).hexdigest())
    document = _signature_document(card.name, sig_file)
    manifest = document["manifest"]
    keys = trusted_keys()
    key = keys.get(document["key_id"])
    if key is None:
        raise ModelError(card.name, f"{sig_file.name} is signed by key {document['key_id']}, which this program "
                                    f"does not trust (trusted: {', '.join(keys) or 'none'})")
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(base64.b64decode(document["signature"], validate=True), canonical_json(manifest))
    except (InvalidSignature, ValueError):
        raise ModelError(card.name, f"the signature in {sig_file.name} does not verify: the signed manifest "
                                    "was altered after signing") from None
    if manifest.get("model") != card.name:
        raise ModelError(card.name, f"{sig_file.name} signs model {manifest.get('model')!r}, not {card.name!r}")
    edits = card_differences(manifest["card"], _card_json(card_file, card.name))
    if edits:
        raise ModelError(card.name, "its card differs from the signed card: " + "; ".join(edits[:4])
                         + (f"; and {len(edits) - 4} more" if len(edits) > 4 else ""))
    _check_files(card.name, folder, manifest["files"], missing_ok)
    return Trust(signed=True, digest=hashlib.sha256(canonical_json(manifest)).hexdigest(),
                 key_id=document["key_id"])


def verify_card_files(card: ModelCard, card_dir: Path, *, missing_ok: tuple[str, ...] = (),
                      hashed: bool = False) -> list[FileEntry]:
    """Check every file the card lists against its size and sha256; raise ModelError on any difference
    (`load_card` does, and the registry, which lets some files be absent).

    Files whose role is in `missing_ok` may be absent (the runtime can fall back without them); they
    are returned. Any other absent file, and any file that is present but differs, is refused.
    `hashed`: the caller has just checked the present files' sums (a verified signature); only
    presence and size are checked.
    """
    missing = []
    for entry in card.files:
        target = Path(card_dir) / entry.path
        if Path(entry.path).name != entry.path:
            raise ModelError(card.name, f"file {entry.path!r} must sit beside the card, not in another folder")
        if not target.is_file():
            if entry.role in missing_ok:
                missing.append(entry)
                continue
            raise ModelError(card.name, f"file {target} ({entry.role}) is missing")
        if target.stat().st_size != entry.size or (not hashed and file_sha256(target) != entry.sha256):
            raise ModelError(
                card.name, f"file {target} ({entry.role}) does not match its checksum: altered or incomplete"
            )
    return missing


def _signature_document(model: str, sig_file: Path) -> dict[str, Any]:
    try:
        document = json.loads(sig_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(model, f"{sig_file.name} is not readable JSON ({error})") from error
    ok = (isinstance(document, dict) and document.get("schema") == SIGNATURE_SCHEMA
          and isinstance(document.get("manifest"), dict) and isinstance(document.get("key_id"), str)
          and isinstance(document.get("signature"), str)
          and isinstance(document["manifest"].get("card"), dict)
          and isinstance(document["manifest"].get("files"), list))
    if not ok:
        raise ModelError(model, f"{sig_file.name} is not a {SIGNATURE_SCHEMA} signature")
    return document


def _check_files(model: str, folder: Path, signed: Iterable[dict[str, Any]], missing_ok: Sequence[str]) -> None:
    for entry in signed:
        target = folder / entry["path"]
        if not target.is_file():
            if entry["role"] in missing_ok:
                continue
            raise ModelError(model, f"file {entry['path']} ({entry['role']}) that the signature covers is missing")
        if target.stat().st_size != entry["size"] or file_sha256(target) != entry["sha256"]:
            raise ModelError(model, f"file {entry['path']} ({entry['role']}) is not the signed file: "
                                    "it was replaced or altered after the model was shipped")


def card_differences(signed: Any, present: Any, where: str = "") -> list[str]:
    """Each leaf where the present card differs from the signed one, in a reader's words."""
    if isinstance(signed, dict) and isinstance(present, dict):
        out = []
        for key in sorted(set(signed) | set(present), key=str):
            name = f"{where}.{key}" if where else str(key)
            if key not in present:
                out.append(f"card field {name} was removed")
            elif key not in signed:
                out.append(f"card field {name} was added")
            elif _same_shape(signed[key], present[key]):
                out.extend(card_differences(signed[key], present[key], name))
            elif signed[key] != present[key]:
                out.append(f"card field {name} is {_short(present[key])}; the signed card says {_short(signed[key])}")
        return out
    if isinstance(signed, list) and isinstance(present, list) and len(signed) == len(present):
        return [edit for i, (a, b) in enumerate(zip(signed, present, strict=True))
                for edit in card_differences(a, b, f"{where}[{i}]")]
    if signed == present:
        return []
    return [f"card field {where} is {_short(present)}; the signed card says {_short(signed)}"]


def _same_shape(a: Any, b: Any) -> bool:
    """Both objects, or both lists of one length: compared item by item, so a message names the leaf."""
    return (isinstance(a, dict) and isinstance(b, dict)) or (
        isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and a != b)


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def signed_names(folder: Path) -> list[str]:
    """Models in `folder` that carry a signature file (whether or not it verifies)."""
    return sorted(p.name.removesuffix(SIGNATURE_SUFFIX) for p in Path(folder).glob(f"*{SIGNATURE_SUFFIX}")
                  if (Path(folder) / (p.name.removesuffix(SIGNATURE_SUFFIX) + CARD_SUFFIX)).exists())
