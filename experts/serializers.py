from rest_framework import serializers

from experts.models import Expert, ExpertInterest, ExpertUnavailability, PerformanceRecord, Specialty


class SpecialtySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Specialty
        fields = ["id", "code", "name", "parent"]


class SpecialtyBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Specialty
        fields = ["code", "name"]


class ExpertSerializer(serializers.ModelSerializer):
    specialties = SpecialtyBriefSerializer(many=True, read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = Expert
        fields = [
            "id",
            "number",
            "name",
            "user",
            "specialties",
            "title",
            "practice_years",
            "region_code",
            "employer_name",
            "employer_credit_code",
            "phone",
            "email",
            "status",
            "status_label",
            "status_reason",
            "status_until",
            "status_changed_at",
            "pool",
        ]
        read_only_fields = fields


class PenaltySerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    until = serializers.DateField(required=False, allow_null=True, default=None, help_text="含当日；空为无期限")


class ReinstateSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class PerformanceSerializer(serializers.ModelSerializer):
    recorded_by = serializers.CharField(source="recorded_by.username", read_only=True)

    class Meta:
        model = PerformanceRecord
        fields = [
            "id",
            "expert",
            "lot",
            "attended",
            "late_minutes",
            "score_deviation",
            "complaints",
            "note",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = fields


class PerformanceCreateSerializer(serializers.Serializer):
    lot = serializers.IntegerField(required=False, allow_null=True, default=None)
    attended = serializers.BooleanField()
    late_minutes = serializers.IntegerField(min_value=0, default=0)
    score_deviation = serializers.DecimalField(max_digits=6, decimal_places=2, required=False, allow_null=True, default=None)
    complaints = serializers.IntegerField(min_value=0, max_value=32767, default=0)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class UnavailabilitySerializer(serializers.ModelSerializer):
    class Meta:
        model = ExpertUnavailability
        fields = ["id", "expert", "start", "end", "reason", "created_at"]
        read_only_fields = ["id", "expert", "created_at"]


class UnavailabilityWriteSerializer(serializers.Serializer):
    expert = serializers.IntegerField(required=False, help_text="工作人员必填；专家本人省略 / staff only")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class InterestSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExpertInterest
        fields = ["id", "expert", "kind", "organisation_credit_code", "person_name", "note", "created_at"]
        read_only_fields = ["id", "expert", "created_at"]


class InterestWriteSerializer(serializers.Serializer):
    expert = serializers.IntegerField(required=False, help_text="工作人员必填；专家本人省略 / staff only")
    kind = serializers.ChoiceField(choices=ExpertInterest.Kind.choices)
    organisation_credit_code = serializers.CharField(max_length=18, required=False, allow_blank=True, default="")
    person_name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(required=False, default=False)
    partial = serializers.BooleanField(required=False, default=False)
    create_accounts = serializers.BooleanField(required=False, default=False)
