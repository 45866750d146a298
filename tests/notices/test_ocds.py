"""Open data (notices/ocds.py, docs/open-data.md): every package the API serves is valid against the official OCDS 1.1
release-package and release schemas; a lot's releases follow it through its life and say nothing the law keeps
secret at that moment; `updated_since` filters; the cursor pages without loss or repeat while releases are added."""

import hashlib
import json
import re
import subprocess
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from notices import letters, ocds
from notices.models import Release
from tests import factories
from tests.bidding.opening_kit import client, decrypt, open_lot, sign_in
from tests.evaluation import kit
from tests.locks import lot_then_head_against, pg_only
from tests.trading.publicity_kit import evaluation_done, ranking_of
from trading import services

# --- The official schemas ------------------------------------------------------------------------------------------
# No PyPI package installs the OCDS schema files; the sdists of two Open Contracting Partnership packages carry
# unmodified copies among their test fixtures. They are fetched with pip (PyPI only) into var/cache/ocds-schema/ once,
# and every byte is checked against the hashes below; nothing is copied into this repository.
SCHEMA_CACHE = Path(__file__).resolve().parents[2] / "var" / "cache" / "ocds-schema"
SCHEMAS = {
    # OCDS 1.1.5 release package schema (its releases $ref the 1.1.5 release schema by URL).
    "release-package-schema.json": (
        "ocdskit==1.7.0",
        "ocdskit-1.7.0.tar.gz",
        "02a7d6182bbd7672cfd26cdbcae9726fbacdb917203d2bd5a726caa30040ff76",
        "ocdskit-1.7.0/tests/fixtures/release-package-schema.json",
        "44a9d8d66001af8e44112b45f5cc7923ee2f40f4790e816f90af1782c5885ee5",
    ),
    # OCDS 1.1.4 release schema: the newest unpatched 1.1 release schema in a PyPI sdist.
    "release-schema.json": (
        "ocdsmerge==0.8.0",
        "ocdsmerge-0.8.0.tar.gz",
        "a9f6d8f1e854b79d07d378f3effaaefcc2687efd52e9edacd89b6b4a79538160",
        "ocdsmerge-0.8.0/tests/fixtures/release-schema-1__1__4.json",
        "4226ea4a3016030171db667166c11ab5c22777de5f75a44aa601a610809b5696",
    ),
}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _schema(name: str) -> dict:
    requirement, archive, archive_sha, member, member_sha = SCHEMAS[name]
    target = SCHEMA_CACHE / name
    if target.exists() and _sha256(target.read_bytes()) == member_sha:
        return json.loads(target.read_bytes())
    SCHEMA_CACHE.mkdir(parents=True, exist_ok=True)
    sdist = SCHEMA_CACHE / archive
    if not sdist.exists():
        fetched = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(SCHEMA_CACHE),
                requirement,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if fetched.returncode != 0 or not sdist.exists():
            pytest.fail(f"could not fetch {requirement} from PyPI for the OCDS schema: {fetched.stderr[-2000:]}")
    assert _sha256(sdist.read_bytes()) == archive_sha, f"{archive} is not the pinned file"
    with tarfile.open(sdist) as tar:
        data = tar.extractfile(member).read()
    assert _sha256(data) == member_sha, f"{member} is not the pinned file"
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    return json.loads(data)


@pytest.fixture(scope="session")
def validator():
    package_schema = _schema("release-package-schema.json")
    release_schema = _schema("release-schema.json")
    release = Resource(contents=release_schema, specification=DRAFT4)
    # The package refers to the release schema by URL (1.1.5); the release schema's own id names its version (1.1.4)
    # and its internal references resolve against that: both URLs lead to the local copy, nothing is fetched.
    registry = Registry().with_resources(
        [(package_schema["properties"]["releases"]["items"]["$ref"], release), (release_schema["id"], release)]
    )
    return Draft4Validator(package_schema, registry=registry, format_checker=Draft4Validator.FORMAT_CHECKER)


RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def valid(validator, package: dict) -> dict:
    errors = sorted(validator.iter_errors(package), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    assert package["version"] == "1.1" and package["releases"]
    ids = [r["id"] for r in package["releases"]]
    assert len(ids) == len(set(ids))
    for release in package["releases"]:
        assert release["ocid"].startswith("ocds-testab-") and RFC3339_UTC.match(release["date"])
    return package


@pytest.fixture(autouse=True)
def _prefix(settings):
    settings.OCDS_PREFIX = "ocds-testab"


def lot_package(lot) -> dict:
    response = client(None).get(f"/api/ocds/lots/{lot.pk}/")
    assert response.status_code == 200, response.content
    return response.json()


def text_of(lot) -> str:
    return json.dumps(lot_package(lot), ensure_ascii=False)


# --- The lifecycle ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_lot_through_its_life(parties, tmp_path, validator):
    kit.specialties()
    opened, _, _ = kit.evaluating_lot(parties, tmp_path)
    lot = opened.lot
    ocid = f"ocds-testab-{lot.transaction_code}"
    tenderee = parties.tenderee.organisation
    a, b, c = (opened.bid(k) for k in opened.kits)

    # The tender notice and the published opening record.
    package = valid(validator, lot_package(lot))
    tender, opening = package["releases"]
    assert package["publisher"]["name"] == "交易中心" and package["uri"] == f"http://testserver/api/ocds/lots/{lot.pk}/"
    notice = lot.notices.get(kind="tender")
    assert tender["id"] == f"{ocid}-notice-{notice.pk}" and tender["tag"] == ["tender"]
    assert tender["date"] == "2026-11-02T01:00:00Z"  # 09:00 in Shanghai
    assert tender["buyer"] == {"id": f"CN-SAIC-{tenderee.credit_code}", "name": "某县城投公司"}
    assert tender["parties"] == [
        {
            "id": f"CN-SAIC-{tenderee.credit_code}",
            "name": "某县城投公司",
            "identifier": {"scheme": "CN-SAIC", "id": tenderee.credit_code, "legalName": "某县城投公司"},
            "roles": ["buyer", "procuringEntity"],
        }
    ]
    assert tender["tender"]["status"] == "active" and tender["tender"]["id"] == lot.transaction_code
    assert tender["tender"]["tenderPeriod"] == {"startDate": "2026-11-02T01:00:00Z", "endDate": "2026-11-23T01:30:00Z"}
    assert tender["tender"]["documents"][0]["documentType"] == "tenderNotice"

    assert opening["tag"] == ["tenderUpdate"] and opening["id"] == f"{ocid}-opening-{lot.opening.pk}"
    bidders = sorted((x.bidder.name, x.bidder.credit_code, x.opening_summary["price"]) for x in (a, b, c))
    assert sorted((t["name"], t["id"]) for t in opening["tender"]["tenderers"]) == [
        (name, f"CN-SAIC-{code}") for name, code, _ in bidders
    ]
    assert opening["tender"]["numberOfTenderers"] == 3
    assert sorted((d["tenderers"][0]["name"], d["status"], d["value"]) for d in opening["bids"]["details"]) == [
        (name, "pending", {"amount": float(price), "currency": "CNY"}) for name, _, price in bidders
    ]
    assert {p["name"]: p["roles"] for p in opening["parties"]} == {
        "某县城投公司": ["buyer", "procuringEntity"],
        **{name: ["tenderer"] for name, _, _ in bidders},
    }

    # Candidates publicity: pending awards, C first and A second.
    evaluation_done(parties, lot, at=kit.NOW + timedelta(hours=20), ranking=ranking_of(lot, [c, a]))
    with time_machine.travel(kit.NOW + timedelta(days=1), tick=False):
        services.lot_start_publicity(lot=lot, actor=parties.staff)
    package = valid(validator, lot_package(lot))
    candidates = package["releases"][-1]
    assert candidates["tag"] == ["award"]
    assert [(w["id"], w["status"], w["suppliers"][0]["name"], w["value"]["amount"]) for w in candidates["awards"]] == [
        (f"{lot.transaction_code}-candidate-1", "pending", c.bidder.name, float(c.opening_summary["price"])),
        (f"{lot.transaction_code}-candidate-2", "pending", a.bidder.name, float(a.opening_summary["price"])),
    ]

    # The award: C's award active, A's unsuccessful, the tender complete.
    lot.refresh_from_db()
    with time_machine.travel(lot.publicity_end + timedelta(minutes=1), tick=False):
        services.sweep_deadlines()
        lot.refresh_from_db()
        letters.award_letters_issue(lot=lot, actor=parties.staff)
    package = valid(validator, lot_package(lot))
    result = package["releases"][-1]
    assert len(package["releases"]) == 4
    assert result["tag"] == ["awardUpdate", "tenderUpdate"] and result["tender"]["status"] == "complete"
    assert [(w["id"][-11:], w["status"]) for w in result["awards"]] == [
        ("candidate-1", "active"),
        ("candidate-2", "unsuccessful"),
    ]
    assert result["awards"][0]["value"] == {"amount": float(c.opening_summary["price"]), "currency": "CNY"}
    roles = {p["name"]: p["roles"] for p in result["parties"]}
    assert (roles[c.bidder.name], roles[a.bidder.name]) == (["tenderer", "supplier"], ["tenderer"])

    # The result notice names the committee (法规 requires it); the open data never does.
    from evaluation.selectors import committee_of

    names = list(committee_of(lot.pk).values_list("expert__name", flat=True))
    assert names and all(name in lot.notices.get(kind="result").body for name in names)
    assert not any(name in text_of(lot) for name in names)

    # Stored, so the same bytes every time and every release listed once in the whole feed.
    assert lot_package(lot)["releases"] == package["releases"]
    feed = valid(validator, client(None).get("/api/ocds/releases/").json())
    assert [r["id"] for r in feed["releases"]] == [r["id"] for r in package["releases"]]
    by_ocid = client(None).get(f"/api/ocds/ocids/{ocid}/").json()
    assert by_ocid["releases"] == package["releases"]


@pytest.mark.django_db
def test_clarification_termination_and_failure(parties, validator):
    lot = factories.lot(parties, stage="published")
    moment = lot.docs_issued_at + timedelta(days=10)  # 11 days before the deadline: it moves (条例21)
    services.clarification_publish(
        lot=lot, actor=parties.tenderee, title="澄清公告", body="修改工期", affects_bids=True, now=moment
    )
    services.lot_terminate(lot=lot, actor=parties.tenderee, reason="项目取消", now=moment + timedelta(hours=1))
    package = valid(validator, lot_package(lot))
    _, clarification, termination = package["releases"]
    lot.refresh_from_db()
    assert clarification["tag"] == ["tenderAmendment"]
    assert clarification["tender"]["tenderPeriod"]["endDate"] == lot.bid_deadline.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert clarification["tender"]["amendments"][0]["description"] == "澄清公告"
    assert (termination["tag"], termination["tender"]["status"]) == (["tenderCancellation"], "cancelled")

    failed = factories.lot(parties, stage="published")
    factories.enough_bids(parties, failed, count=2)  # fewer than 3: no opening (条例44)
    with time_machine.travel(failed.bid_deadline, tick=False):
        services.sweep_deadlines()
    failed.refresh_from_db()
    assert failed.status == "failed"
    package = valid(validator, lot_package(failed))
    assert [(r["tag"], r["tender"]["status"]) for r in package["releases"]] == [
        (["tender"], "active"),
        (["tenderUpdate"], "unsuccessful"),
    ]
    assert "tenderers" not in json.dumps(package)  # no opening, no record: the bidders stay unnamed


# --- Confidentiality ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_nothing_about_bidders_before_the_opening_record(parties, tmp_path, validator):
    """Enrolments and bids (法22), the opening itself and the decryption change no byte of the open data; the
    bidders and their prices appear with the published record, not before."""
    lot = factories.lot(parties, stage="published")

    def everything() -> bytes:
        return client(None).get("/api/ocds/releases/").content + client(None).get(f"/api/ocds/lots/{lot.pk}/").content

    before = everything()
    opened = open_lot(parties, tmp_path, count=3, lot=lot)
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened)
        for bidder in opened.kits:
            assert decrypt(opened, bidder).status_code == 200
    assert everything() == before
    valid(validator, json.loads(client(None).get(f"/api/ocds/lots/{lot.pk}/").content))
    names = [k.user.organisation.name for k in opened.kits] + [k.user.organisation.credit_code for k in opened.kits]
    assert not any(name in before.decode() for name in names)

    factories.finish_opening(parties, lot)
    after = text_of(lot)
    assert all(name in after for name in names)
    assert Release.objects.filter(lot=lot).count() == 2


# --- Filtering and paging -----------------------------------------------------------------------------------------------


def published_lot(parties, when: datetime):
    """A lot whose tender release is recorded at `when` (the wall clock), its notice at the same moment."""
    with time_machine.travel(when, tick=False):
        return factories.lot(parties, stage="published", issued=when)


@pytest.mark.django_db
def test_updated_since(parties, validator):
    monday = factories.at(datetime(2026, 11, 2).date())
    lots = [published_lot(parties, monday + timedelta(days=7 * i)) for i in range(3)]
    since = (monday + timedelta(days=7)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    package = valid(validator, client(None).get("/api/ocds/releases/", {"updated_since": since}).json())
    assert [r["tender"]["id"] for r in package["releases"]] == [x.transaction_code for x in lots[1:]]
    assert package["publishedDate"] == (monday + timedelta(days=14)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # An offset other than Z, and '+' sent unescaped in the query string, mean the same moment.
    local = (monday + timedelta(days=7)).isoformat()
    for text in (local, local.replace("+", " ")):
        response = client(None).get(f"/api/ocds/releases/?updated_since={text}")
        assert [r["tender"]["id"] for r in response.json()["releases"]] == [x.transaction_code for x in lots[1:]]
    for bad in ("2026-11-09T09:30:00", "yesterday"):  # no offset; not a time
        response = client(None).get("/api/ocds/releases/", {"updated_since": bad})
        assert (response.status_code, response.json()["code"]) == (400, "invalid_updated_since")
    empty = client(None).get("/api/ocds/releases/", {"updated_since": "2030-01-01T00:00:00Z"}).json()
    assert empty["releases"] == [] and "links" not in empty


@pytest.mark.django_db
def test_the_cursor_neither_loses_nor_repeats_while_releases_are_added(parties, validator, django_assert_max_num_queries):
    monday = factories.at(datetime(2026, 11, 2).date())
    for i in range(5):
        published_lot(parties, monday + timedelta(hours=i))
    seen, url, added = [], "/api/ocds/releases/?page_size=2", 0
    while url:
        with django_assert_max_num_queries(3):
            response = client(None).get(url)
        package = valid(validator, response.json())
        assert len(package["releases"]) <= 2
        seen += [r["id"] for r in package["releases"]]
        url = package.get("links", {}).get("next")
        if url:
            assert url.startswith("http://testserver/api/ocds/releases/?") and "page_size=2" in url
        if added < 3:  # a new lot is published between every two page fetches
            published_lot(parties, monday + timedelta(days=1, hours=added))
            added += 1
    assert seen == list(Release.objects.order_by("seq").values_list("release_id", flat=True))
    assert len(seen) == len(set(seen)) == 8


@pytest.mark.django_db
def test_releases_are_public_and_read_only(parties):
    lot = factories.lot(parties, stage="published")
    for path in ("/api/ocds/releases/", f"/api/ocds/lots/{lot.pk}/"):
        assert client(None).get(path).status_code == 200
        assert client(parties.staff).post(path, {}, format="json").status_code == 405
    assert client(None).get(f"/api/ocds/lots/{lot.pk + 1000}/").status_code == 404
    draft = factories.lot(parties, stage="filed")  # nothing published yet: no open data
    assert client(None).get(f"/api/ocds/lots/{draft.pk}/").status_code == 404
    assert client(None).get("/api/ocds/releases/", {"cursor": "garbage"}).status_code == 404


@pg_only
@pytest.mark.django_db(transaction=True)
def test_writing_a_release_takes_no_lock_a_service_could_be_waiting_on():
    """A service locks the lot, then audits; a release is written after its own transaction's audit entry (the head's
    lock). Had the release's lot a database constraint, its check would take a key-share lock on the lot after the
    head: the two transactions would deadlock."""
    parties = factories.Parties.create()
    lot = factories.lot(parties, stage="registered")
    errors = lot_then_head_against(lot, lambda: ocds._store(lot, event="test", date=datetime(2026, 12, 1, tzinfo=UTC), data={}))
    assert errors == []
    assert list(Release.objects.filter(lot=lot).values_list("release_id", flat=True)) == [f"{ocds.ocid_of(lot)}-test"]
