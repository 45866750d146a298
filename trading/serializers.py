from rest_framework import serializers

from trading.models import (
    Lot,
    Objection,
    Organisation,
    RegionalMessage,
    Review,
    RuleSet,
    TenderDocument,
    TenderProject,
    User,
)


class OrganisationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "credit_code", "kind", "region_code", "contact_name", "contact_phone"]


class ContactSerializer(serializers.Serializer):
    contact_name = serializers.CharField(max_length=50)
    contact_phone = serializers.CharField(max_length=30)


class UserSerializer(serializers.ModelSerializer):
    organisation = OrganisationSerializer(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "role", "organisation"]


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class RuleSetSerializer(serializers.ModelSerializer):
    class Meta:
        model = RuleSet
        exclude = []


class LotSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    project_name = serializers.CharField(source="project.name", read_only=True)
    tenderee = serializers.CharField(source="project.tenderee.name", read_only=True)

    class Meta:
        model = Lot
        fields = [
            "id",
            "project",
            "project_name",
            "tenderee",
            "seq",
            "name",
            "transaction_code",
            "estimated_price",
            "max_price",
            "bond_amount",
            "status",
            "status_label",
            "suspended_from",
            "suspension_kind",
            "suspension_reason",
            "status_changed_at",
            "docs_issued_at",
            "docs_sale_end",
            "bid_deadline",
            "publicity_start",
            "publicity_end",
            "retender_of",
        ]
        read_only_fields = fields


class LotCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    estimated_price = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0)
    max_price = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True)
    bond_amount = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0, default=0)


class ProjectSerializer(serializers.ModelSerializer):
    tenderee = OrganisationSerializer(read_only=True)
    agency = OrganisationSerializer(read_only=True)
    lots = serializers.SerializerMethodField()

    class Meta:
        model = TenderProject
        fields = [
            "id",
            "code",
            "name",
            "tenderee",
            "agency",
            "rule_set",
            "region_code",
            "funding_source",
            "description",
            "registered_at",
            "lots",
        ]

    def get_lots(self, project) -> list[dict]:
        visible = self.context.get("visible_lot_ids")
        return [
            {"id": lot.pk, "seq": lot.seq, "name": lot.name, "status": lot.status}
            for lot in project.lots.all()
            if visible is None or lot.pk in visible
        ]


class ProjectCreateSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=50)
    name = serializers.CharField(max_length=200)
    rule_set = serializers.SlugRelatedField(slug_field="code", queryset=RuleSet.objects.all())
    region_code = serializers.RegexField(r"^\d{6}$")
    tenderee_credit_code = serializers.CharField(max_length=18, required=False)
    funding_source = serializers.CharField(max_length=100, required=False, default="")
    description = serializers.CharField(required=False, default="")

    def validate_code(self, value):
        if TenderProject.objects.filter(code=value).exists():
            raise serializers.ValidationError("项目编号已存在 / project code already exists")
        return value


class ReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = Review
        fields = [
            "id",
            "kind",
            "project",
            "lot",
            "status",
            "note",
            "reasons",
            "submitted_by",
            "submitted_at",
            "reviewed_by",
            "reviewed_at",
        ]


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, default="", allow_blank=True)


class ReasonsSerializer(serializers.Serializer):
    reasons = serializers.CharField()


class FilingSerializer(serializers.Serializer):
    docs_sale_end = serializers.DateTimeField()
    bid_deadline = serializers.DateTimeField()
    note = serializers.CharField(required=False, default="", allow_blank=True)


class PublishSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    body = serializers.CharField()


class ClarificationSerializer(PublishSerializer):
    affects_bids = serializers.BooleanField()
    document = serializers.PrimaryKeyRelatedField(queryset=TenderDocument.objects.all(), required=False, allow_null=True)


class DocumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = TenderDocument
        fields = ["id", "lot", "version", "filename", "size", "sha256", "content_type", "uploaded_at"]


class DocumentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class ObjectionSerializer(serializers.ModelSerializer):
    raised_by = serializers.SerializerMethodField()

    class Meta:
        model = Objection
        fields = [
            "id",
            "lot",
            "stage",
            "subject",
            "content",
            "status",
            "raised_at",
            "answer_due",
            "raised_by",
            "answer",
            "answered_at",
        ]

    def get_raised_by(self, objection) -> str | None:
        # A documents objection's raiser is sealed until the deadline: shown as a potential bidder only.
        return objection.raised_by.name if objection.raised_by_id else None


class ObjectionCreateSerializer(serializers.Serializer):
    # documents: to the tender documents (条例22); results: to the evaluation result during publicity (条例54).
    stage = serializers.ChoiceField(choices=Objection.Stage.choices, default=Objection.Stage.DOCUMENTS)
    subject = serializers.CharField(max_length=200)
    content = serializers.CharField()


class AnswerSerializer(serializers.Serializer):
    answer = serializers.CharField()


class RegionalMessageSerializer(serializers.ModelSerializer):
    lot_code = serializers.CharField(source="lot.transaction_code", read_only=True)

    class Meta:
        model = RegionalMessage
        fields = [
            "id",
            "lot",
            "lot_code",
            "seq",
            "table",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields
