"""The council: named approvers, a quorum, signed decisions that `dti audit` and `dti publish`
check (publish/council.py; docs/spec/council.md)."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest

from pipeline import jobs
from pipeline.cli import main
from publish import releases
from publish.bundle import write_bundle
from publish.council import CouncilError, generate_key_pair, read_council
from tests.publish.publish_marts_fixture import passing_runs

PERIOD = 2023
COUNCIL = (
    ("an", "Nguyễn Văn An"),
    ("binh", "Trần Thị Bình"),
    ("chi", "Lê Minh Chi"),
)
HEADER = "approver_id,full_name,public_key,valid_from,revoked_at\n"


def _write_registry(path: Path, keys: dict[str, str], revoked: dict[str, str] | None = None):
    revoked = revoked or {}
    lines = [f"{i},{name},{keys[i]},2020-01-01,{revoked.get(i, '')}\n" for i, name in COUNCIL]
    path.write_text(HEADER + "".join(lines), encoding="utf-8")


@pytest.fixture
def council(small_warehouse, tmp_path, monkeypatch):
    """Three named approvers with their keys on the server, a quorum of 2, signing on; the same
    settings in the environment for the `dti` command."""
    keys_dir = tmp_path / "keys"
    keys = {i: generate_key_pair(i, keys_dir)[1] for i, _ in COUNCIL}
    registry = tmp_path / "approvers.csv"
    _write_registry(registry, keys)
    settings = dataclasses.replace(
        small_warehouse,
        approvers=registry,
        approval_quorum=2,
        approval_signing=True,
        approval_keys_dir=keys_dir,
    )
    for name, value in {
        "DTI_APPROVERS": registry,
        "DTI_APPROVAL_QUORUM": 2,
        "DTI_APPROVAL_SIGNING": "true",
        "DTI_APPROVAL_KEYS_DIR": keys_dir,
        "DTI_PUBLISH_TOKEN": "t",
    }.items():
        monkeypatch.setenv(name, str(value))
    return settings


def _keys(settings) -> dict[str, str]:
    return {
        a.approver_id: a.public_key for a in read_council(settings.approvers).approvers.values()
    }


def _draft(settings) -> tuple[Path, str]:
    draft = write_bundle(settings, PERIOD, passing_runs(PERIOD), approval_required=True)
    return draft, json.loads((draft / "manifest.json").read_text())["bundle_sha256"]


def _paths(settings) -> list[str]:
    return ["--out", str(settings.out)]


def _audit(settings) -> list[str]:
    return [
        "audit",
        "--period",
        str(PERIOD),
        *_paths(settings),
        "--warehouse",
        str(settings.warehouse),
    ]


def _manifest(settings) -> dict:
    return json.loads((settings.out / str(PERIOD) / "manifest.json").read_text(encoding="utf-8"))


def test_a_name_not_on_the_list_can_neither_approve_nor_reject(council, capsys):
    draft, checksum = _draft(council)
    with pytest.raises(CouncilError, match="không có trong danh sách người phê duyệt"):
        jobs.approve(council, PERIOD, 1, by="mallory", reviewed_sha256=checksum)
    code = main(
        ["release", "reject", "--period", str(PERIOD), "--release", "1", "--by", "Trưởng phòng",
         "--reason", "không", *_paths(council)]
    )  # fmt: skip
    assert code == 1 and "chỉ Nguyễn Văn An (an), Trần Thị Bình (binh)" in capsys.readouterr().err
    assert releases.ReleaseStore(council.out, PERIOD).draft().info.get("approvals") is None


def test_the_draft_becomes_current_only_after_the_second_distinct_approver(council, capsys):
    draft, checksum = _draft(council)
    store = releases.ReleaseStore(council.out, PERIOD)

    first = jobs.approve(council, PERIOD, 1, by="an", reviewed_sha256=checksum, reason="đúng")
    assert first["status"] == "draft" and first["approvals_missing"] == 1
    assert store.live_number() is None
    # the next prompt: who approved, how many are missing, who may still approve
    draft_now = jobs.draft_of(council, PERIOD)
    assert draft_now["approvers_owed"] == [
        {"id": "binh", "name": "Trần Thị Bình"},
        {"id": "chi", "name": "Lê Minh Chi"},
    ]
    _, body = jobs.approval_prompt(draft_now)
    assert "- Đã phê duyệt: Nguyễn Văn An (" in body and "Cần thêm **1** người" in body
    # the same person twice, by id then by full name: still one approval
    again = jobs.approve(council, PERIOD, 1, by="nguyễn văn an", reviewed_sha256=checksum[:12])
    assert again["approvals_missing"] == 1 and len(again["approvals"]) == 1

    # the second approver signs with their own key file, from the command line
    key = council.approval_keys_dir / "binh.pem"
    code = main(
        ["release", "approve", "--period", str(PERIOD), "--release", "1", "--checksum",
         checksum[:12], "--by", "Trần Thị Bình", "--key", str(key), *_paths(council)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert store.live_number() == 1
    info = _manifest(council)["release"]
    assert info["status"] == "approved" and info["quorum"] == 2
    assert [(a["approver"], a["name"]) for a in info["approvals"]] == [
        ("an", "Nguyễn Văn An"),
        ("binh", "Trần Thị Bình"),
    ]
    assert all(a["at"].endswith("Z") and a["signature"] and a["key"] for a in info["approvals"])
    assert info["approvals"][0]["reason"] == "đúng"
    assert info["approvals"][1]["reviewed_sha256"] == checksum
    assert info["approved_by"] == "Nguyễn Văn An, Trần Thị Bình"

    verdict = jobs.verify_release(council, PERIOD)
    assert verdict["ok"] and verdict["counted"] == ["an", "binh"]
    capsys.readouterr()
    assert main(_audit(council)) == 0
    assert "approvals counted: 2 of quorum 2 (required): OK" in capsys.readouterr().out


def test_a_rejection_is_signed_and_one_member_suffices(council):
    draft, checksum = _draft(council)
    jobs.approve(council, PERIOD, 1, by="an", reviewed_sha256=checksum)
    rejected = jobs.reject(council, PERIOD, 1, by="chi", reason="sai số liệu xã A")
    assert rejected["status"] == "rejected" and rejected["rejected_by"] == "Lê Minh Chi"
    (entry,) = rejected["rejections"]
    assert entry["approver"] == "chi" and entry["signature"] and entry["reason"]
    assert rejected["approvals"][0]["approver"] == "an"  # kept: who had approved it
    assert releases.ReleaseStore(council.out, PERIOD).live_number() is None


def _refusals(settings, capsys) -> tuple[str, str]:
    """What `dti audit` and `dti publish` say of the current release (both must refuse)."""
    capsys.readouterr()
    audit = main(_audit(settings))
    audit_err = capsys.readouterr().err
    publish = main(
        ["publish", "--period", str(PERIOD), "--to", "http://127.0.0.1:9/api/bundles",
         "--out", str(settings.out), "--attempts", "1"]
    )  # fmt: skip
    publish_err = capsys.readouterr().err
    assert audit == 1 and publish == 1, (audit_err, publish_err)
    assert "SignatureRefused" in publish_err  # refused before any request to the site
    return audit_err, publish_err


def test_a_changed_manifest_a_removed_signature_or_a_revoked_key_is_refused(council, capsys):
    draft, checksum = _draft(council)
    for who in ("an", "binh"):
        jobs.approve(council, PERIOD, 1, by=who, reviewed_sha256=checksum)
    path = draft / "manifest.json"
    signed = path.read_bytes()

    # one byte of the signed content: a digit of a file's checksum
    text = signed.decode("utf-8")
    at = text.index('"sha256": "') + len('"sha256": "')
    changed = text[:at] + ("0" if text[at] != "0" else "1") + text[at + 1 :]
    assert len(changed.encode()) == len(signed)
    path.write_bytes(changed.encode("utf-8"))
    for said in _refusals(council, capsys):
        assert "bản công bố đã thay đổi sau khi an phê duyệt" in said
    path.write_bytes(signed)
    assert jobs.verify_release(council, PERIOD)["ok"]

    # a signature removed, or forged by changing who signed
    manifest = json.loads(signed)
    del manifest["release"]["approvals"][1]["signature"]
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    for said in _refusals(council, capsys):
        assert "1 phê duyệt hợp lệ, cần 2" in said and "binh — không có chữ ký" in said
    manifest = json.loads(signed)
    manifest["release"]["approvals"][1]["approver"] = "chi"
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    for said in _refusals(council, capsys):
        assert "chi: chữ ký không khớp với khóa của Lê Minh Chi (chi)" in said
    path.write_bytes(signed)

    # a key revoked since: its signatures no longer count
    _write_registry(council.approvers, _keys(council), revoked={"binh": "2026-01-01"})
    for said in _refusals(council, capsys):
        assert "binh — khóa đã bị thu hồi" in said


def test_a_final_release_approved_without_the_council_is_not_published(council, capsys):
    write_bundle(council, PERIOD, passing_runs(PERIOD))  # approved at once, nobody signed
    for said in _refusals(council, capsys):
        assert "kỳ 2023, bản 1 (chính thức) có 0 phê duyệt hợp lệ, cần 2" in said


def test_a_preliminary_release_needs_the_quorum_to_be_current_but_not_to_be_audited(council):
    draft = write_bundle(
        council, PERIOD, passing_runs(PERIOD), approval_required=True, publication="preliminary"
    )
    checksum = json.loads((draft / "manifest.json").read_text())["bundle_sha256"]
    jobs.approve(council, PERIOD, 1, by="an", reviewed_sha256=checksum)
    jobs.approve(council, PERIOD, 1, by="chi", reviewed_sha256=checksum)
    _write_registry(council.approvers, _keys(council), revoked={"chi": "2026-01-01"})
    verdict = jobs.verify_release(council, PERIOD)
    assert verdict["ok"] and not verdict["required"] and verdict["counted"] == ["an"]


def test_signing_needs_the_approvers_own_key(council, tmp_path):
    draft, checksum = _draft(council)
    with pytest.raises(releases.PublishError, match="không phải khóa của Nguyễn Văn An"):
        jobs.approve(
            council, PERIOD, 1, by="an", reviewed_sha256=checksum,
            key_path=council.approval_keys_dir / "binh.pem",
        )  # fmt: skip
    without_keys = dataclasses.replace(council, approval_keys_dir=tmp_path / "nowhere")
    with pytest.raises(releases.PublishError, match="cần khóa bí mật"):
        jobs.approve(without_keys, PERIOD, 1, by="an", reviewed_sha256=checksum)


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_over_one(tmp_path, capsys):
    assert main(["council", "keygen", "--approver", "dung", "--name", "Phạm Dũng",
                 "--dir", str(tmp_path)]) == 0  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    assert len(base64.b64decode(printed["public_key"])) == 32
    assert printed["csv_line"].startswith("dung,Phạm Dũng,")
    assert (tmp_path / "dung.pem").stat().st_mode & 0o777 == 0o600
    assert main(["council", "keygen", "--approver", "dung", "--dir", str(tmp_path)]) == 1
    assert "không ghi đè" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "quorum", "refused"),
    [
        ("approver_id,name\nan,An\n", 1, "dòng đầu phải là"),
        (HEADER + "an,An,,,\nAN,An 2,,,\n", 1, "bị lặp"),
        (HEADER + "Nguyễn An,An,,,\n", 1, "phải là tên đăng nhập"),
        (HEADER + "an,,,,\n", 1, "thiếu họ tên"),
        (HEADER + "an,An,bm90IGEga2V5,,\n", 1, "public_key của an không dùng được"),
        (HEADER + "an,An,,hôm qua,\n", 1, "không phải ngày"),
        (HEADER + "an,An,,,\nbinh,Bình,,,2020-01-01\n", 2, "lớn hơn số người phê duyệt"),
    ],
)
def test_a_registry_that_cannot_be_trusted_is_refused_whole(tmp_path, text, quorum, refused):
    path = tmp_path / "approvers.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CouncilError, match=refused):
        read_council(path, quorum)


def test_a_quorum_or_signing_without_named_approvers_is_refused(settings):
    with pytest.raises(CouncilError, match="DTI_APPROVAL_QUORUM=2 cần danh sách"):
        read_council(None, 2)
    assert not read_council(None, 1).named
    # a named council makes every release a draft, whatever DTI_PUBLISH_REQUIRES_APPROVAL says
    assert not settings.approval_required
    assert dataclasses.replace(settings, approvers=Path("a.csv")).approval_required
