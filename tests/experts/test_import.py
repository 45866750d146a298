import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from audit.models import AuditEvent
from experts import services
from experts.models import Expert
from tests import factories
from tests.experts.conftest import make_expert
from trading.models import Role, User

pytestmark = pytest.mark.django_db

HEADER = [
    "专家编号",
    "姓名",
    "身份证号",
    "专业代码",
    "职称",
    "从业年限",
    "行政区划",
    "工作单位",
    "单位统一社会信用代码",
    "手机",
    "邮箱",
]


def row(number, name="韦建国", codes="A0801；B01", credit=None, **over):
    values = {
        "专家编号": number,
        "姓名": name,
        "身份证号": "450102198001011234",
        "专业代码": codes,
        "职称": "高级工程师",
        "从业年限": "12",
        "行政区划": "450102",
        "工作单位": "某设计院",
        "单位统一社会信用代码": credit if credit is not None else factories.credit_code(),
        "手机": "13800000001",
        "邮箱": "a@example.com",
    }
    values.update(over)
    return [values[h] for h in HEADER]


def as_csv(rows, *, header=HEADER, encoding="utf-8", bom=False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def as_xlsx(rows, *, numeric=False) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for values in rows:
        if numeric:  # what Excel stores when someone types the numbers in
            values = [int(v) if h in ("从业年限", "手机", "行政区划") else v for h, v in zip(HEADER, values, strict=True)]
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run(data, filename="experts.csv", **kw):
    return services.experts_import(actor=None, filename=filename, data=data, **kw)


def snapshot():
    return (
        list(Expert.objects.order_by("number").values()),
        sorted(Expert.specialties.through.objects.values_list("expert_id", "specialty_id")),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize(
    ("encoding", "bom"), [("utf-8", False), ("utf-8", True), ("gb18030", False)], ids=["utf8", "utf8-bom", "gb18030"]
)
def test_csv_import_creates_experts(tree, encoding, bom):
    credit = factories.credit_code()
    data = as_csv(
        [row("GX-1", credit=credit), row("GX-2", name="覃丽华", codes="A080101, A0901", 手机="+86 139-0000-0002")],
        encoding=encoding,
        bom=bom,
    )

    report = run(data)

    assert report == {
        "ok": True, "dry_run": False, "partial": False, "imported": True,
        "rows": 2, "valid": 2, "created": 2, "updated": 0, "unchanged": 0, "errors": [],
    }  # fmt: skip
    first, second = Expert.objects.order_by("number")
    assert (first.number, first.name, first.title, first.practice_years, first.region_code) == (
        "GX-1",
        "韦建国",
        "高级工程师",
        12,
        "450102",
    )
    assert (first.employer_name, first.employer_credit_code, first.phone, first.email) == (
        "某设计院",
        credit,
        "13800000001",
        "a@example.com",
    )
    assert sorted(first.specialties.values_list("code", flat=True)) == ["A0801", "B01"]
    assert (second.name, second.phone) == ("覃丽华", "13900000002")
    assert sorted(second.specialties.values_list("code", flat=True)) == ["A080101", "A0901"]
    assert first.status == "active" and first.user is None
    # The ID-card column is read and dropped: it is stored nowhere, audit trail included.
    assert "450102198001011234" not in json.dumps(list(Expert.objects.values()), default=str)
    event = AuditEvent.objects.get(action="expert.imported")
    assert (event.actor_id, event.after["created"], event.after["updated"]) == (None, ["GX-1", "GX-2"], [])
    assert "450102198001011234" not in json.dumps(event.after)


def test_xlsx_import_with_numeric_cells(tree):
    report = run(as_xlsx([row("GX-1"), row("GX-2", 从业年限="7")], numeric=True), filename="专家.xlsx")
    assert (report["ok"], report["created"]) == (True, 2)
    assert list(Expert.objects.order_by("number").values_list("practice_years", "phone", "region_code")) == [
        (12, "13800000001", "450102"),
        (7, "13800000001", "450102"),
    ]


def test_bad_rows_are_reported_per_row_and_nothing_is_imported(tree):
    make_expert("GX-OLD", tree["A0801"], name="原名")
    before = snapshot()
    data = as_csv(
        [
            row("GX-OLD", name="新名"),  # fine, but the file is refused as a whole
            row("GX-2", codes="A0801；Z99", 从业年限="十二"),
            row("GX-3", credit="91450102000000000A", 手机="12345"),
            ["", "", "", "", "", "", "", "", "", "", ""],  # blank rows are skipped, not reported
            row("GX-2", 行政区划="4501", 邮箱="not-an-email"),
            row("", name=""),
        ]
    )

    report = run(data)

    assert (report["ok"], report["imported"], report["rows"], report["valid"], report["created"]) == (False, False, 5, 1, 0)
    assert [(e["row"], e["column"], e["code"]) for e in report["errors"]] == [
        (3, "专业代码", "unknown_specialty"),
        (3, "从业年限", "invalid_practice_years"),
        (4, "单位统一社会信用代码", "invalid_credit_code"),
        (4, "手机", "invalid_phone"),
        (6, "专家编号", "duplicate_number"),
        (6, "行政区划", "invalid_region"),
        (6, "邮箱", "invalid_email"),
        (7, "专家编号", "required"),
        (7, "姓名", "required"),
    ]
    assert report["errors"][0] == {
        "row": 3, "column": "专业代码", "code": "unknown_specialty", "zh": "专业代码不存在", "en": "Unknown specialty code", "value": "Z99",
    }  # fmt: skip
    assert snapshot() == before
    assert Expert.objects.get(number="GX-OLD").name == "原名"


def test_partial_imports_the_good_rows(tree):
    report = run(as_csv([row("GX-1"), row("GX-2", 手机="1")]), partial=True)
    assert (report["ok"], report["imported"], report["created"], [e["row"] for e in report["errors"]]) == (False, True, 1, [3])
    assert list(Expert.objects.values_list("number", flat=True)) == ["GX-1"]


def test_upsert_on_number(tree):
    credit = factories.credit_code()
    existing = make_expert("GX-1", tree["A0901"], name="旧名", employer_credit_code=credit, phone="13800000001")
    existing.status = Expert.Status.SUSPENDED
    existing.status_reason = "暂停"
    existing.save()
    data = as_csv([row("GX-1", name="韦建国", credit=credit), row("GX-2")])

    dry = run(data, dry_run=True)
    assert (dry["ok"], dry["imported"], dry["created"], dry["updated"]) == (True, False, 1, 1)
    assert Expert.objects.count() == 1

    report = run(data)
    assert (report["created"], report["updated"], report["unchanged"]) == (1, 1, 0)
    existing.refresh_from_db()
    assert (existing.pk, existing.name, existing.status, existing.status_reason) == (existing.pk, "韦建国", "suspended", "暂停")
    assert sorted(existing.specialties.values_list("code", flat=True)) == ["A0801", "B01"]
    assert AuditEvent.objects.get(action="expert.imported").after["updated"] == ["GX-1"]

    # Same file again: nothing changes, and nothing is audited as changed.
    again = run(as_csv([row("GX-1", name="韦建国", credit=credit)]))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1)


@pytest.mark.parametrize(
    ("data", "filename", "error"),
    [
        (as_csv([row("GX-1")], header=[h if h != "手机" else "电话" for h in HEADER]), "a.csv", (1, "手机", "missing_column")),
        (as_csv([], header=HEADER), "a.csv", (2, "", "empty_file")),
        (b"", "a.csv", (1, "", "empty_file")),
        (b"PK\x03\x04 not really a workbook", "a.xlsx", (0, "", "unreadable_file")),
        (b"\xff\xfe\x00\xd8\x00\x00", "a.csv", (0, "", "unreadable_file")),
        (as_csv([row("GX-1")], header=[*HEADER[:-1], "姓名"]), "a.csv", (1, "姓名", "duplicate_column")),
    ],
    ids=["missing-column", "header-only", "empty", "bad-xlsx", "binary", "duplicate-column"],
)
def test_file_level_refusals(tree, data, filename, error):
    report = run(data, filename=filename)
    assert (report["ok"], report["imported"]) == (False, False)
    assert [(e["row"], e["column"], e["code"]) for e in report["errors"]] == [error]
    assert Expert.objects.count() == 0


def test_oversized_file_is_refused(tree, monkeypatch):
    from experts import importing

    monkeypatch.setattr(importing, "MAX_BYTES", 100)
    report = run(as_csv([row("GX-1")]))
    assert [e["code"] for e in report["errors"]] == ["file_too_large"]


def test_create_accounts(tree):
    factories.user(Role.BIDDER, username="expert-GX-2")
    report = run(as_csv([row("GX-1"), row("GX-2")]), create_accounts=True)
    assert [(e["row"], e["code"]) for e in report["errors"]] == [(3, "account_username_taken")]
    assert Expert.objects.count() == 0

    report = run(as_csv([row("GX-1")]), create_accounts=True)
    expert = Expert.objects.get(number="GX-1")
    assert (expert.user.username, expert.user.role, expert.user.has_usable_password()) == ("expert-GX-1", "expert", False)
    assert User.objects.filter(username__startswith="expert-GX").count() == 2


def test_import_through_the_service_is_staff_only(parties, tree):
    for who in (parties.supervisor, parties.expert, parties.tenderee):
        with pytest.raises(Exception) as refused:
            services.experts_import(actor=who, filename="a.csv", data=as_csv([row("GX-1")]))
        assert refused.value.code == "role_not_allowed"
    assert Expert.objects.count() == 0


def test_management_command(tree, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(as_csv([row("GX-1")], bom=True))
    call_command("import_experts", str(good), "--dry-run")
    assert Expert.objects.count() == 0
    assert "将新增1" in capsys.readouterr().out

    call_command("import_experts", str(good), "--json")
    assert json.loads(capsys.readouterr().out)["created"] == 1
    assert Expert.objects.count() == 1

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(as_xlsx([row("GX-9", 手机="x")]))
    with pytest.raises(CommandError):
        call_command("import_experts", str(bad))
    assert "第2行 [手机] invalid_phone" in capsys.readouterr().out
    assert not Expert.objects.filter(number="GX-9").exists()
