"""REST API (DRF) for the directory, users and children. Thin: validate, call a service or
selector, serialize."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from consult import services
from consult.ages import pediatric_age
from consult.models import (
    MAX_WEIGHT_KG,
    MIN_WEIGHT_KG,
    AllergyStatus,
    Guardian,
    Hospital,
    Patient,
    Role,
    SpecialistSubspecialty,
    User,
    allergy_errors,
)
from consult.selectors import hospitals_visible_to, patients_visible_to, users_visible_to
from core.audit import Action, AuditContext, audit_denied, audit_record


class IsAllianceAdmin(permissions.BasePermission):
    message = gettext_lazy("Only the alliance admin may do this.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user.is_authenticated and request.user.role == Role.ADMIN)


class AdminWritesOnly(permissions.BasePermission):
    message = IsAllianceAdmin.message

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(request.user.role == Role.ADMIN)


def _raise_drf(exc: DjangoValidationError) -> None:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    raise ValidationError(detail) from exc


class HospitalSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)

    class Meta:
        model = Hospital
        fields = [
            "id",
            "code",
            "name",
            "name_zh",
            "name_en",
            "tier",
            "province",
            "city",
            "county",
            "phone",
            "is_active",
        ]


class HospitalViewSet(viewsets.ModelViewSet):
    serializer_class = HospitalSerializer
    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        return hospitals_visible_to(self.request.user).order_by("code")

    def perform_create(self, serializer: HospitalSerializer) -> None:
        self._save(serializer)

    def perform_update(self, serializer: HospitalSerializer) -> None:
        self._save(serializer)

    def _save(self, serializer: HospitalSerializer) -> None:
        instance = serializer.instance or Hospital()
        for key, value in serializer.validated_data.items():
            setattr(instance, key, value)
        try:
            serializer.instance = services.directory_save(
                actor=self.request.user,
                obj=instance,
                context=AuditContext.from_request(self.request),
            )
        except DjangoValidationError as exc:
            _raise_drf(exc)


class UserSerializer(serializers.ModelSerializer):
    hospital = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Hospital.objects.all(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": gettext_lazy("Unknown hospital.")},
    )
    password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"}
    )
    subspecialties = serializers.ListField(
        child=serializers.ChoiceField(
            choices=SpecialistSubspecialty._meta.get_field("subspecialty").choices
        ),
        required=False,
        write_only=True,
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "full_name",
            "email",
            "mobile",
            "role",
            "hospital",
            "is_active",
            "password",
            "subspecialties",
        ]

    def to_representation(self, instance: User) -> dict:
        data = super().to_representation(instance)
        data["subspecialties"] = [s.subspecialty for s in instance.subspecialties.all()]
        return data

    def validate(self, attrs: dict) -> dict:
        role = attrs.get("role", getattr(self.instance, "role", None))
        hospital = attrs.get("hospital", getattr(self.instance, "hospital", None))
        if role != Role.ADMIN and hospital is None:
            raise ValidationError(
                {"hospital": _("A user with this role must belong to a hospital.")}
            )
        if self.instance is None and not attrs.get("password"):
            raise ValidationError({"password": _("A new user needs a password.")})
        return attrs


class UserViewSet(viewsets.ModelViewSet):
    serializer_class = UserSerializer
    permission_classes = [IsAllianceAdmin]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        return (
            users_visible_to(self.request.user)
            .select_related("hospital")
            .prefetch_related("subspecialties")
            .order_by("username")
        )

    def perform_create(self, serializer: UserSerializer) -> None:
        self._save(serializer, User())

    def perform_update(self, serializer: UserSerializer) -> None:
        self._save(serializer, serializer.instance)

    def _save(self, serializer: UserSerializer, user: User) -> None:
        data = dict(serializer.validated_data)
        password = data.pop("password", None)
        subspecialties = data.pop("subspecialties", None)
        for key, value in data.items():
            setattr(user, key, value)
        try:
            serializer.instance = services.user_save(
                actor=self.request.user,
                user=user,
                password=password,
                subspecialties=subspecialties,
                context=AuditContext.from_request(self.request),
            )
        except DjangoValidationError as exc:
            _raise_drf(exc)


class GuardianSerializer(serializers.ModelSerializer):
    class Meta:
        model = Guardian
        fields = ["id", "name", "relation", "mobile"]


class PatientSerializer(serializers.ModelSerializer):
    hospital = serializers.SlugRelatedField(
        source="home_hospital",
        slug_field="code",
        queryset=Hospital.objects.filter(is_active=True),
        required=False,
        error_messages={"does_not_exist": gettext_lazy("Unknown hospital.")},
    )
    mrn = serializers.CharField(write_only=True, max_length=64)
    mrns = serializers.SerializerMethodField()
    age = serializers.SerializerMethodField()
    national_id = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=32
    )
    weight_kg = serializers.DecimalField(
        write_only=True,
        required=False,
        max_digits=5,
        decimal_places=2,
        min_value=Decimal(str(MIN_WEIGHT_KG)),
        max_value=Decimal(MAX_WEIGHT_KG),
    )
    weighed_on = serializers.DateField(write_only=True, required=False)
    latest_weight = serializers.SerializerMethodField()
    allergy_status = serializers.ChoiceField(
        choices=AllergyStatus.choices,
        required=False,
        help_text=gettext_lazy(
            "not_recorded: nobody asked yet; none_known: no known allergies (stated); "
            "listed: the allergies are in `allergies`. When left out it is `listed` if "
            "`allergies` is given, otherwise `not_recorded` (never `none_known`)."
        ),
    )
    guardians = GuardianSerializer(many=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "name",
            "sex",
            "birth_date",
            "age",
            "hospital",
            "mrn",
            "mrns",
            "national_id",
            "weight_kg",
            "weighed_on",
            "latest_weight",
            "allergy_status",
            "allergies",
            "guardians",
        ]

    def get_mrns(self, obj: Patient) -> dict[str, str]:
        return {i.hospital.code: i.mrn for i in obj.identifiers.all()}

    def get_age(self, obj: Patient) -> str:
        return pediatric_age(obj.birth_date, timezone.localdate())

    def get_latest_weight(self, obj: Patient) -> dict | None:
        weights = list(obj.weights.all())
        if not weights:
            return None
        return {"weight_kg": str(weights[0].weight_kg), "measured_on": weights[0].measured_on}

    def validate_birth_date(self, value: Any) -> Any:
        if value > timezone.localdate():
            raise ValidationError(_("The date of birth cannot be in the future."))
        return value

    def validate_guardians(self, value: list) -> list:
        if not value:
            raise ValidationError(_("Add at least one guardian."))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        text = attrs.get("allergies", "").strip()
        status_ = attrs.get("allergy_status") or (
            AllergyStatus.LISTED if text else AllergyStatus.NOT_RECORDED
        )
        if errors := allergy_errors(status_, text):
            raise ValidationError(errors)
        return {**attrs, "allergy_status": status_, "allergies": text}


class PatientViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = PatientSerializer

    def get_queryset(self) -> Any:
        return (
            patients_visible_to(self.request.user)
            .select_related("home_hospital")
            .prefetch_related("identifiers__hospital", "guardians", "weights")
            .order_by("-created_at")
        )

    def get_object(self) -> Patient:
        pk = self.kwargs["pk"]
        try:
            patient = self.get_queryset().get(pk=pk)
        except (Patient.DoesNotExist, ValueError):
            audit_denied(self.request, object_type="patient", object_id=str(pk))
            raise Http404 from None
        audit_record(request=self.request, action=Action.VIEW, obj=patient)
        return patient

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if request.user.role not in (Role.REFERRING_DOCTOR, Role.ADMIN):
            audit_denied(request, object_type="patient", object_id="", reason="register")
            return Response(
                {"detail": _("Only referring doctors register children.")},
                status=status.HTTP_403_FORBIDDEN,
            )
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        hospital = data.get("home_hospital") if request.user.role == Role.ADMIN else None
        hospital = hospital or request.user.hospital
        if hospital is None:
            raise ValidationError({"hospital": _("Unknown hospital.")})
        try:
            patient = services.patient_register(
                actor=request.user,
                hospital=hospital,
                name=data["name"],
                sex=data["sex"],
                birth_date=data["birth_date"],
                mrn=data["mrn"],
                weight_kg=data.get("weight_kg"),
                weighed_on=data.get("weighed_on"),
                national_id=data.get("national_id", ""),
                allergy_status=data["allergy_status"],
                allergies=data["allergies"],
                guardians=[dict(g) for g in data["guardians"]],
                context=AuditContext.from_request(request),
            )
        except services.DuplicateMRN as exc:
            return Response(
                {"mrn": [exc.messages[0]], "existing_patient": exc.patient.pk},
                status=status.HTTP_409_CONFLICT,
            )
        except DjangoValidationError as exc:
            _raise_drf(exc)
        patient = self.get_queryset().get(pk=patient.pk)
        return Response(self.get_serializer(patient).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get", "post"], serializer_class=GuardianSerializer)
    def guardians(self, request: Request, pk: str | None = None) -> Response:
        patient = self.get_object()
        if request.method == "GET":
            return Response(GuardianSerializer(patient.guardians.all(), many=True).data)
        if request.user.role not in (Role.REFERRING_DOCTOR, Role.ADMIN):
            return Response(status=status.HTTP_403_FORBIDDEN)
        serializer = GuardianSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.guardian_add(
                actor=request.user,
                patient=patient,
                context=AuditContext.from_request(request),
                **serializer.validated_data,
            )
        except DjangoValidationError as exc:
            _raise_drf(exc)
        return Response(
            GuardianSerializer(Guardian.objects.filter(patient=patient), many=True).data,
            status=status.HTTP_201_CREATED,
        )
