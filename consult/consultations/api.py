"""REST API for consultations: the same selectors and services as the pages."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from consult.consultations.services import (
    ConsultationError,
    consultation_accept,
    consultation_cancel,
    consultation_create,
    consultation_reassign,
    consultation_request_info,
    consultation_submit,
    consultation_update,
    message_post,
)
from consult.consultations.sla import sla_policies, sla_standing
from consult.models import Consultation, Message, Priority, Role, Subspecialty, User
from consult.selectors import consultations_visible_to, patients_visible_to
from core.audit import Action, AuditContext, audit_denied, audit_record
from core.refusals import refused_api
from core.transitions import TransitionNotAllowed


class ConsultationSerializer(serializers.ModelSerializer):
    patient_name = serializers.CharField(source="patient.name", read_only=True)
    hospital_name = serializers.CharField(source="hospital.name", read_only=True)
    study_ids = serializers.PrimaryKeyRelatedField(source="studies", many=True, read_only=True)
    seconds_left = serializers.SerializerMethodField()

    class Meta:
        model = Consultation
        fields = [
            "id",
            "patient",
            "patient_name",
            "hospital",
            "hospital_name",
            "requested_by",
            "subspecialty",
            "priority",
            "urgent_reason",
            "clinical_history",
            "question",
            "study_ids",
            "status",
            "assigned_to",
            "submitted_at",
            "reported_at",
            "breached_at",
            "seconds_left",
        ]
        read_only_fields = fields

    def get_seconds_left(self, obj: Consultation) -> int | None:
        standing = sla_standing(obj, self.context["policies"])
        return int(standing.left.total_seconds()) if standing else None


class ConsultationWriteSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    subspecialty = serializers.ChoiceField(Subspecialty.choices, default=Subspecialty.GENERAL)
    priority = serializers.ChoiceField(Priority.choices, default=Priority.ROUTINE)
    urgent_reason = serializers.CharField(required=False, allow_blank=True, default="")
    clinical_history = serializers.CharField(required=False, allow_blank=True, default="")
    question = serializers.CharField(required=False, allow_blank=True, default="")
    study_ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list
    )


class MessageSerializer(serializers.ModelSerializer):
    author_name = serializers.CharField(source="author.full_name", read_only=True)

    class Meta:
        model = Message
        fields = ["id", "author", "author_name", "kind", "body", "created_at"]
        read_only_fields = fields


class TextSerializer(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, default="")
    specialist = serializers.IntegerField(required=False, allow_null=True, default=None)


class ConsultationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ConsultationSerializer

    def get_queryset(self) -> Any:
        qs = consultations_visible_to(self.request.user).select_related("patient", "hospital")
        status_filter = self.request.query_params.get("status")
        if status_filter:
            qs = qs.filter(status=status_filter)
        return qs.prefetch_related("studies").order_by("-created_at")

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "policies": sla_policies()}

    def get_object(self) -> Consultation:
        try:
            obj = self.get_queryset().get(pk=self.kwargs["pk"])
        except (Consultation.DoesNotExist, ValueError):
            audit_denied(
                self.request, object_type="consultation", object_id=str(self.kwargs["pk"])[:128]
            )
            raise Http404 from None
        return obj

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        obj = self.get_object()
        audit_record(request=request, action=Action.VIEW, obj=obj, patient=obj.patient)
        return Response(self.get_serializer(obj).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ConsultationWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = patients_visible_to(request.user).filter(pk=values.pop("patient")).first()
        if patient is None:
            return Response({"patient": ["Unknown child."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            obj = consultation_create(
                actor=request.user, context=self._context(), patient=patient, **values
            )
        except ConsultationError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        obj = self.get_object()
        data = ConsultationWriteSerializer(
            data={"patient": obj.patient_id, **request.data}, partial=True
        )
        data.is_valid(raise_exception=True)
        values = {k: v for k, v in data.validated_data.items() if k in request.data}
        try:
            consultation_update(
                consultation=obj,
                actor=request.user,
                context=self._context(),
                study_ids=values.pop("study_ids", None),
                **values,
            )
        except ConsultationError as exc:
            return self._failed(obj, exc)
        return self._changed(obj)

    def _context(self) -> AuditContext:
        return AuditContext.from_request(self.request)

    def _failed(self, obj: Consultation, exc: ConsultationError) -> Response:
        """The workflow table refuses it here (409) or for this person (403); any other
        refusal is bad input (400). The service wrote nothing."""
        if isinstance(exc, TransitionNotAllowed):
            return refused_api(self.request, exc, obj=obj, patient=obj.patient)
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)

    def _changed(self, obj: Consultation) -> Response:
        """The case as the service left it (its audit row written with the change)."""
        obj.refresh_from_db()
        return Response(self.get_serializer(obj).data)

    def _text(self) -> dict[str, Any]:
        data = TextSerializer(data=self.request.data)
        data.is_valid(raise_exception=True)
        return data.validated_data

    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        obj = self.get_object()
        try:
            consultation_submit(consultation=obj, actor=request.user, context=self._context())
        except ConsultationError as exc:
            return self._failed(obj, exc)
        return self._changed(obj)

    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        obj = self.get_object()
        try:
            consultation_accept(consultation=obj, actor=request.user, context=self._context())
        except ConsultationError as exc:
            return self._failed(obj, exc)
        return self._changed(obj)

    @action(detail=True, methods=["post"], url_path="request-info")
    def request_info(self, request: Request, pk: str) -> Response:
        obj, text = self.get_object(), self._text()["text"]
        try:
            consultation_request_info(
                consultation=obj, actor=request.user, context=self._context(), question=text
            )
        except ConsultationError as exc:
            return self._failed(obj, exc)
        return self._changed(obj)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        obj, text = self.get_object(), self._text()["text"]
        try:
            consultation_cancel(
                consultation=obj, actor=request.user, context=self._context(), reason=text
            )
        except ConsultationError as exc:
            return self._failed(obj, exc)
        return self._changed(obj)

    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, pk: str) -> Response:
        obj, data = self.get_object(), self._text()
        specialist = None
        if data["specialist"]:
            specialist = User.objects.filter(pk=data["specialist"], role=Role.SPECIALIST).first()
            if specialist is None:
                return Response(
                    {"specialist": ["Unknown specialist."]}, status=status.HTTP_400_BAD_REQUEST
                )
        try:
            consultation_reassign(
                consultation=obj,
                actor=request.user,
                context=self._context(),
                specialist=specialist,
                reason=data["text"],
            )
        except ConsultationError as exc:
            return self._failed(obj, exc)
        return self._changed(obj)

    @action(detail=True, methods=["get", "post"])
    def messages(self, request: Request, pk: str) -> Response:
        obj = self.get_object()
        if request.method == "POST":
            text = self._text()["text"]
            try:
                message = message_post(
                    consultation=obj, actor=request.user, context=self._context(), body=text
                )
            except ConsultationError as exc:
                return self._failed(obj, exc)
            return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
        audit_record(
            request=request, action=Action.VIEW, obj=obj, patient=obj.patient, reason="messages"
        )
        rows = obj.messages.select_related("author")
        return Response(MessageSerializer(rows, many=True).data)
