import pytest

from audit.models import AuditEvent
from experts.models import Expert, Specialty
from tests.experts.conftest import make_expert

pytestmark = pytest.mark.django_db


def test_admin_pages_render(client, parties, tree):
    expert = make_expert("GX-1", tree["A0801"], name="韦建国", employer_name="桂城设计院", status=Expert.Status.SUSPENDED)
    client.force_login(parties.admin)
    listing = client.get("/admin/experts/expert/?status__exact=suspended")
    assert listing.status_code == 200
    assert "韦建国" in listing.content.decode()
    assert "韦建国" not in client.get("/admin/experts/expert/?status__exact=active").content.decode()
    assert "韦建国" in client.get("/admin/experts/expert/?q=桂城").content.decode()
    assert "韦建国" in client.get(f"/admin/experts/expert/?specialties__id__exact={tree['A0801'].pk}").content.decode()
    change = client.get(f"/admin/experts/expert/{expert.pk}/change/")
    assert change.status_code == 200
    for inline in ("unavailability", "interests", "performance"):
        assert f'id="{inline}-group"' in change.content.decode()
    tree_page = client.get("/admin/experts/specialty/")
    assert tree_page.status_code == 200
    assert "\u3000\u3000住宅" in tree_page.content.decode()  # indented by level


def test_admin_specialty_parent_follows_code(client, parties, tree):
    client.force_login(parties.admin)
    response = client.post(
        "/admin/experts/specialty/add/",
        {"code": "A080102", "name": "公共建筑", "children-TOTAL_FORMS": "0", "children-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Specialty.objects.get(code="A080102").parent == tree["A0801"]
    assert AuditEvent.objects.filter(action="specialty.created", actor_id=parties.admin.pk).count() == 1


def test_admin_reinstate_action_goes_through_the_service(client, parties, tree):
    suspended = make_expert("GX-1", tree["A0801"], status=Expert.Status.SUSPENDED, status_reason="x")
    active = make_expert("GX-2", tree["A0801"])
    client.force_login(parties.admin)
    response = client.post(
        "/admin/experts/expert/", {"action": "reinstate", "_selected_action": [suspended.pk, active.pk]}, follow=True
    )
    assert response.status_code == 200
    suspended.refresh_from_db()
    assert suspended.status == "active"
    assert list(AuditEvent.objects.values_list("action", "object_id")) == [("expert.reinstated", str(suspended.pk))]
    assert "该专家已是正常状态" in response.content.decode()


def _change_form(expert, tree, **over):
    data = {
        "number": expert.number,
        "name": expert.name,
        "pool": "local",
        "user": "",
        "title": "",
        "practice_years": "3",
        "region_code": "450102",
        "specialties": [tree["A0801"].pk, tree["B01"].pk],
        "employer_name": expert.employer_name,
        "employer_credit_code": expert.employer_credit_code,
        "phone": expert.phone,
        "email": "",
        "unavailability-TOTAL_FORMS": "1",
        "unavailability-INITIAL_FORMS": "0",
        "unavailability-0-start_0": "2026-12-10",
        "unavailability-0-start_1": "08:00:00",
        "unavailability-0-end_0": "2026-12-12",
        "unavailability-0-end_1": "18:00:00",
        "unavailability-0-reason": "出差",
        "interests-TOTAL_FORMS": "1",
        "interests-INITIAL_FORMS": "0",
        "interests-0-kind": "relative",
        "interests-0-organisation_credit_code": "",
        "interests-0-person_name": "配偶",
        "interests-0-note": "",
        "performance-TOTAL_FORMS": "0",
        "performance-INITIAL_FORMS": "0",
    }
    data.update(over)
    return data


def test_admin_edits_are_audited_through_the_services(client, parties, tree):
    expert = make_expert("GX-1", tree["A0801"], name="韦建国")
    client.force_login(parties.admin)
    response = client.post(f"/admin/experts/expert/{expert.pk}/change/", _change_form(expert, tree, name="韦建华"))
    assert response.status_code == 302, response.content.decode()[-3000:]
    expert.refresh_from_db()
    assert (expert.name, expert.practice_years) == ("韦建华", 3)
    assert sorted(expert.specialties.values_list("code", flat=True)) == ["A0801", "B01"]
    assert list(expert.unavailability.values_list("reason", flat=True)) == ["出差"]
    assert list(expert.interests.values_list("person_name", flat=True)) == ["配偶"]
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions == [
        "expert.changed",
        "expert.unavailability_added",
        "expert.interest_declared",
        "expert.specialties_changed",
    ]
    changed = AuditEvent.objects.get(action="expert.changed").after
    assert changed == {"name": "韦建华", "practice_years": 3, "region_code": "450102"}
    assert AuditEvent.objects.get(action="expert.specialties_changed").after == {"specialties": ["A0801", "B01"]}
