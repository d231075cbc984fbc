"""The council (hội đồng) that approves a period's release: who may decide, how many must agree,
and the signatures that prove it later (docs/spec/council.md is the contract).

The approvers are named in a CSV (``DTI_APPROVERS``): ``approver_id`` (their login, in Airflow
too), ``full_name``, ``public_key`` (Ed25519, 32 bytes in base64), ``valid_from`` and
``revoked_at`` (dates or times; blank: none). A release becomes current once
``DTI_APPROVAL_QUORUM`` distinct approvers approved it. With ``DTI_APPROVAL_SIGNING`` each
decision is signed: the approver's key signs the *statement* of the decision, canonical JSON
naming the period, the release, the decision, who, when, why, the checksum reviewed and the
digest of the manifest's signed content (the manifest without its decisions). So a manifest
changed after signing, a signature removed or a key revoked is found by ``check_release``, which
`dti audit` and `dti publish` both call.

Without ``DTI_APPROVERS`` nothing changes: anyone may approve, by any name, and one approval
makes a release current (the behaviour before the council).
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

CONTRACT = "dti-release-decision/1"
COLUMNS = ("approver_id", "full_name", "public_key", "valid_from", "revoked_at")
APPROVED, REJECTED = "approved", "rejected"
# the fields of a manifest's ``release`` that decisions write: not signed (each decision adds
# to them), everything else of the manifest is
DECISION_FIELDS = frozenset(
    {
        "status",
        "approvals",
        "rejections",
        "quorum",
        "approved_by",
        "approved_at",
        "approval_reason",
        "rejected_by",
        "rejected_at",
        "reason",
    }
)
APPROVER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
KEY_SUFFIX = ".pem"


class CouncilError(ValueError):
    """The council's registry or a decision is not acceptable; the message says why, in
    Vietnamese (an approver or the ICT department reads it)."""


class SignatureRefused(CouncilError):
    """A release whose approvals or signatures do not hold (`dti audit`, `dti publish`)."""


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _moment(raw: str, column: str, line: int, path: Path) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            return datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise CouncilError(
            f"{path}, dòng {line}: {column} = {raw!r} không phải ngày (YYYY-MM-DD) hay thời điểm "
            "(ISO 8601)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_time(stamp: object) -> datetime | None:
    """A manifest's ``...Z`` time, or None when it is not one."""
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def public_key_bytes(text: str) -> bytes:
    """The 32 bytes of an Ed25519 public key written in base64; ValueError otherwise."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("không phải base64") from None
    if len(raw) != 32:
        raise ValueError(f"khóa Ed25519 có 32 byte, khóa này {len(raw)} byte")
    return raw


def key_fingerprint(public_key: str) -> str:
    """The first 16 hex digits of the key's sha256: how a signature names its key."""
    return hashlib.sha256(public_key_bytes(public_key)).hexdigest()[:16]


@dataclass(frozen=True)
class Approver:
    approver_id: str
    full_name: str
    public_key: str = ""
    valid_from: datetime | None = None
    revoked_at: datetime | None = None

    def key_state(self, at: datetime | None, now: datetime) -> str | None:
        """Why this approver's key cannot vouch for a decision made ``at``, or None."""
        if not self.public_key:
            return "chưa có khóa công khai trong danh sách người phê duyệt"
        if self.revoked_at is not None and self.revoked_at <= now:
            return f"khóa đã bị thu hồi từ {self.revoked_at.isoformat()}"
        if self.valid_from is not None and (at is None or at < self.valid_from):
            return f"khóa chỉ có hiệu lực từ {self.valid_from.isoformat()}"
        return None

    def label(self) -> str:
        return f"{self.full_name} ({self.approver_id})"


@dataclass(frozen=True)
class Council:
    """Who may decide (``approvers``; empty: anyone, by any name), how many approvals make a
    release current, whether decisions are signed and where the server keeps the keys of
    those who approve through Airflow."""

    approvers: Mapping[str, Approver] = field(default_factory=dict)
    quorum: int = 1
    signing: bool = False
    keys_dir: Path | None = None
    source: Path | None = None

    @property
    def named(self) -> bool:
        return bool(self.approvers)

    def approver(self, by: str) -> Approver | None:
        """The approver ``by`` names (their id, or their full name as written, any case);
        None when the council is not named. A name not on the list is refused."""
        if not self.named:
            return None
        wanted = nfc((by or "").strip()).casefold()
        for approver in self.approvers.values():
            if wanted in (approver.approver_id.casefold(), nfc(approver.full_name).casefold()):
                return approver
        names = ", ".join(a.label() for a in self.approvers.values())
        raise CouncilError(
            f"{by!r} không có trong danh sách người phê duyệt ({self.source}): chỉ {names} "
            "được quyết định (--by là mã hoặc họ tên của một người trong danh sách)"
        )

    def usable(self, now: datetime | None = None) -> list[Approver]:
        """The approvers whose key has not been revoked (everyone when signing is off)."""
        now = now or datetime.now(UTC)
        return [
            a
            for a in self.approvers.values()
            if not (a.revoked_at is not None and a.revoked_at <= now)
        ]


def read_council(
    path: Path | None, quorum: int = 1, signing: bool = False, keys_dir: Path | None = None
) -> Council:
    """The council from the settings: the registry at ``path`` (None: no names) checked whole,
    so a bad line is refused before anyone decides."""
    if path is None:
        if quorum > 1 or signing:
            raise CouncilError(
                f"DTI_APPROVAL_QUORUM={quorum}"
                + (" và DTI_APPROVAL_SIGNING=true" if signing else "")
                + " cần danh sách người phê duyệt có tên (DTI_APPROVERS: tệp CSV "
                + ", ".join(COLUMNS)
                + ")"
            )
        return Council(quorum=quorum, signing=signing, keys_dir=keys_dir)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CouncilError(
            f"không đọc được danh sách người phê duyệt {path} (DTI_APPROVERS): "
            f"{exc.strerror or exc}"
        ) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip() for c in rows[0]] != list(COLUMNS):
        raise CouncilError(
            f"{path}: dòng đầu phải là {','.join(COLUMNS)} (DTI_APPROVERS, danh sách người phê "
            "duyệt)"
        )
    approvers: dict[str, Approver] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(COLUMNS):
            raise CouncilError(f"{path}, dòng {line}: cần {len(COLUMNS)} cột, có {len(row)}")
        cells = dict(zip(COLUMNS, (nfc(c.strip()) for c in row), strict=True))
        approver_id = cells["approver_id"]
        if not APPROVER_ID.fullmatch(approver_id):
            raise CouncilError(
                f"{path}, dòng {line}: approver_id {approver_id!r} phải là tên đăng nhập (chữ "
                "không dấu, số, . _ @ -; tối đa 64 ký tự)"
            )
        if approver_id.casefold() in {a.casefold() for a in approvers}:
            raise CouncilError(f"{path}, dòng {line}: approver_id {approver_id!r} bị lặp")
        if not cells["full_name"]:
            raise CouncilError(f"{path}, dòng {line}: thiếu họ tên (full_name) của {approver_id}")
        if cells["public_key"]:
            try:
                public_key_bytes(cells["public_key"])
            except ValueError as exc:
                raise CouncilError(
                    f"{path}, dòng {line}: public_key của {approver_id} không dùng được ({exc}); "
                    "tạo cặp khóa bằng `dti council keygen`"
                ) from None
        elif signing:
            raise CouncilError(
                f"{path}, dòng {line}: {approver_id} chưa có public_key mà DTI_APPROVAL_SIGNING "
                "bật; tạo cặp khóa bằng `dti council keygen`"
            )
        approvers[approver_id] = Approver(
            approver_id,
            cells["full_name"],
            cells["public_key"],
            _moment(cells["valid_from"], "valid_from", line, path),
            _moment(cells["revoked_at"], "revoked_at", line, path),
        )
    council = Council(approvers, quorum, signing, keys_dir, path)
    if not approvers:
        raise CouncilError(f"{path}: danh sách người phê duyệt không có ai")
    usable = council.usable()
    if quorum > len(usable):
        raise CouncilError(
            f"DTI_APPROVAL_QUORUM={quorum} lớn hơn số người phê duyệt còn hiệu lực "
            f"({len(usable)} trong {path}): không bản nào có thể được phê duyệt"
        )
    return council


# --- what is signed -----------------------------------------------------------------------------


def canonical_bytes(value: Any) -> bytes:
    """JSON with sorted keys, no spaces, UTF-8 (NFC) text: the same content gives the same
    bytes, whatever the indentation of the file it was read from."""
    return json.dumps(
        _nfc_strings(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")  # fmt: skip


def _nfc_strings(value: Any) -> Any:
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, Mapping):
        return {nfc(str(k)): _nfc_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nfc_strings(v) for v in value]
    return value


def signed_content(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest without what decisions write (``DECISION_FIELDS`` of its ``release``)."""
    content = dict(manifest)
    content["release"] = {
        k: v for k, v in dict(manifest.get("release") or {}).items() if k not in DECISION_FIELDS
    }
    return content


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(signed_content(manifest))).hexdigest()


STATEMENT_FIELDS = ("approver", "at", "reason", "reviewed_sha256", "manifest_sha256")


def statement(period: int, number: int, decision: str, entry: Mapping[str, Any]) -> bytes:
    """The bytes an approver signs for one decision on release ``number`` of ``period``."""
    return canonical_bytes(
        {
            "contract": CONTRACT,
            "period": int(period),
            "release": int(number),
            "decision": decision,
            **{k: entry.get(k) for k in STATEMENT_FIELDS},
        }
    )


# --- keys ---------------------------------------------------------------------------------------


def generate_key_pair(approver_id: str, folder: Path) -> tuple[Path, str]:
    """A new Ed25519 key pair: the private key written to ``folder/<approver_id>.pem`` (only its
    owner may read it; never over an existing file) and the public key in base64, for the
    ``public_key`` column of the registry."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not APPROVER_ID.fullmatch(approver_id):
        raise CouncilError(
            f"approver_id {approver_id!r} phải là tên đăng nhập (chữ không dấu, số, . _ @ -)"
        )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{approver_id}{KEY_SUFFIX}"
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CouncilError(f"{target} đã có: không ghi đè khóa bí mật của {approver_id}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return target, base64.b64encode(public).decode("ascii")


def load_private_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise CouncilError(f"không đọc được khóa bí mật {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise CouncilError(f"{path} không phải khóa bí mật PEM dùng được: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CouncilError(f"{path} không phải khóa Ed25519")
    return key


def sign(council: Council, approver: Approver, key_path: Path | None, message: bytes) -> str:
    """The base64 signature of ``message`` by ``approver``: with the key at ``key_path``, else
    the server's ``keys_dir/<approver_id>.pem``. The key must be the one the registry lists."""
    from cryptography.hazmat.primitives import serialization

    path = key_path
    if path is None and council.keys_dir is not None:
        path = council.keys_dir / f"{approver.approver_id}{KEY_SUFFIX}"
    if path is None or not path.is_file():
        raise CouncilError(
            f"{approver.label()}: ký quyết định cần khóa bí mật (--key TỆP, hoặc "
            f"{approver.approver_id}{KEY_SUFFIX} trong DTI_APPROVAL_KEYS_DIR)"
            + (f"; không thấy {path}" if path is not None else "")
        )
    key = load_private_key(path)
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    if base64.b64encode(public).decode("ascii") != approver.public_key:
        raise CouncilError(
            f"khóa {path} không phải khóa của {approver.label()} trong danh sách người phê duyệt"
        )
    state = approver.key_state(datetime.now(UTC), datetime.now(UTC))
    if state:
        raise CouncilError(f"{approver.label()}: {state}; không ký được")
    return base64.b64encode(key.sign(message)).decode("ascii")


def _verify(approver: Approver, message: bytes, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(public_key_bytes(approver.public_key))
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError, binascii.Error, TypeError):
        return False
    return True


# --- a decision, recorded -------------------------------------------------------------------------


def decision_entry(
    council: Council,
    manifest: Mapping[str, Any],
    number: int,
    decision: str,
    *,
    by: str,
    at: str,
    reason: str,
    reviewed_sha256: str | None,
    key_path: Path | None = None,
) -> dict[str, Any]:
    """What one decision adds to the manifest's ``approvals`` or ``rejections``: who (their
    id and name when the council is named), when, why, the checksum reviewed, the digest of
    the content decided on, and with signing on, the signature and its key."""
    approver = council.approver(by)
    entry: dict[str, Any] = {
        "approver": approver.approver_id if approver else by,
        "name": approver.full_name if approver else by,
        "at": at,
        "reason": reason,
        "reviewed_sha256": reviewed_sha256,
        "manifest_sha256": manifest_digest(manifest),
    }
    if council.signing and approver is not None:
        message = statement(int(manifest.get("period") or 0), number, decision, entry)
        entry["key"] = key_fingerprint(approver.public_key)
        entry["signature"] = sign(council, approver, key_path, message)
    return entry


def distinct_approvers(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(str(e.get("approver")) for e in entries))


# --- the check of `dti audit` and `dti publish` ---------------------------------------------------


@dataclass
class Verdict:
    """What ``check_release`` found: the approvals that count, those that do not and why."""

    required: bool
    quorum: int
    counted: list[str] = field(default_factory=list)
    not_counted: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "required": self.required,
            "quorum": self.quorum,
            "ok": self.ok,
            "counted": self.counted,
            "not_counted": self.not_counted,
            "problems": self.problems,
        }


def check_release(
    council: Council, manifest: Mapping[str, Any], now: datetime | None = None
) -> Verdict:
    """Whether the approvals of a release hold: with a named council and a **final** release,
    ``quorum`` distinct approvers on the list must have approved the content as it is now, and
    with signing on, each of those approvals must carry a valid signature by a key neither
    revoked nor before its ``valid_from``. A signature found on any release is checked. A
    preliminary release or one without a named council only has its signatures checked."""
    now = now or datetime.now(UTC)
    release = dict(manifest.get("release") or {})
    period, number = int(manifest.get("period") or 0), int(release.get("number") or 0)
    final = release.get("publication", "final") == "final"
    required = council.named and final
    verdict = Verdict(required, council.quorum)
    digest = manifest_digest(manifest)
    approvals = [a for a in release.get("approvals") or [] if isinstance(a, Mapping)]
    for entry in approvals:
        who = str(entry.get("approver"))
        why = _why_not_counted(council, period, number, entry, digest, now)
        if why:
            verdict.not_counted.append({"approver": who, "reason": why})
        elif who not in verdict.counted:
            verdict.counted.append(who)
    for entry in verdict.not_counted:
        if entry["reason"].startswith(CHANGED):
            verdict.problems.append(f"{entry['approver']}: {entry['reason']}")
        elif entry["reason"].startswith(BAD_SIGNATURE):
            verdict.problems.append(f"{entry['approver']}: {entry['reason']}")
    if required and len(verdict.counted) < council.quorum:
        verdict.problems.append(
            f"kỳ {period}, bản {number} (chính thức) có {len(verdict.counted)} phê duyệt hợp lệ, "
            f"cần {council.quorum}"
            + (
                "; không tính: "
                + "; ".join(f"{e['approver']} — {e['reason']}" for e in verdict.not_counted)
                if verdict.not_counted
                else ""
            )
        )
    return verdict


CHANGED = "bản công bố đã thay đổi sau khi"
BAD_SIGNATURE = "chữ ký không khớp"


def _why_not_counted(
    council: Council,
    period: int,
    number: int,
    entry: Mapping[str, Any],
    digest: str,
    now: datetime,
) -> str | None:
    who = str(entry.get("approver"))
    if entry.get("manifest_sha256") != digest:
        done = "ký" if entry.get("signature") else "duyệt"
        return f"{CHANGED} {who} phê duyệt (nội dung khác nội dung đã {done})"
    if not council.named:
        if entry.get("signature"):
            return "có chữ ký nhưng không có danh sách người phê duyệt để kiểm (DTI_APPROVERS)"
        return None
    approver = council.approvers.get(who)
    if approver is None:
        return "không có trong danh sách người phê duyệt"
    signature = entry.get("signature")
    if not council.signing and not signature:
        return None
    if not signature:
        return "không có chữ ký (DTI_APPROVAL_SIGNING bật)"
    state = approver.key_state(parse_time(entry.get("at")), now)
    if state:
        return state
    if not _verify(approver, statement(period, number, APPROVED, entry), str(signature)):
        return f"{BAD_SIGNATURE} với khóa của {approver.label()}"
    return None
