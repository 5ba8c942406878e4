"""REST API for referrals (/api/referrals/): the same selectors and services as the pages."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from consult.models import Department
from consult.selectors import consultations_visible_to, patients_visible_to
from core.audit import Action, AuditContext, audit_denied, audit_record
from core.refusals import refused_api
from core.transitions import TransitionNotAllowed
from referrals.models import DeclineReason, Referral, Transport, Urgency
from referrals.selectors import referrals_visible_to
from referrals.services import (
    ReferralError,
    referral_accept,
    referral_arrive,
    referral_cancel,
    referral_complete,
    referral_create,
    referral_decline,
    referral_depart,
    referral_redirect,
    referral_schedule,
)


class ReferralSerializer(serializers.ModelSerializer):
    patient_name = serializers.CharField(source="patient.name", read_only=True)
    study_ids = serializers.PrimaryKeyRelatedField(source="studies", many=True, read_only=True)

    class Meta:
        model = Referral
        fields = [
            "id",
            "patient",
            "patient_name",
            "consultation",
            "report",
            "study_ids",
            "source_hospital",
            "source_doctor",
            "receiving_hospital",
            "receiving_department",
            "urgency",
            "reason",
            "status",
            "scheduled_for",
            "slot",
            "report_to",
            "transport",
            "what_to_bring",
            "outcome_note",
            "requested_at",
            "accepted_at",
            "arrived_at",
            "closed_at",
            "due_at",
        ]
        read_only_fields = fields


class CreateSerializer(serializers.Serializer):
    consultation = serializers.IntegerField(required=False)
    patient = serializers.IntegerField(required=False)
    department = serializers.IntegerField()
    urgency = serializers.ChoiceField(choices=Urgency.choices)
    reason = serializers.CharField()


class DeclineSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=DeclineReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class RedirectSerializer(serializers.Serializer):
    department = serializers.IntegerField()


class ScheduleSerializer(serializers.Serializer):
    scheduled_for = serializers.DateTimeField()
    slot = serializers.CharField(required=False, allow_blank=True, default="")
    report_to = serializers.CharField()
    transport = serializers.ChoiceField(choices=Transport.choices)
    what_to_bring = serializers.CharField(required=False, allow_blank=True, default="")


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField()


class CompleteSerializer(serializers.Serializer):
    outcome_note = serializers.CharField()


def _department(pk: Any) -> Department | None:
    return Department.objects.select_related("hospital").filter(pk=pk).first()


class ReferralViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ReferralSerializer

    def get_queryset(self) -> Any:
        return (
            referrals_visible_to(self.request.user)
            .select_related("patient")
            .prefetch_related("studies")
            .order_by("-requested_at", "-id")
        )

    def get_object(self) -> Referral:
        pk = self.kwargs["pk"]
        try:
            referral = self.get_queryset().get(pk=pk)
        except (Referral.DoesNotExist, ValueError):
            audit_denied(self.request, object_type="referral", object_id=str(pk)[:128])
            raise Http404 from None
        return referral

    def retrieve(self, request: Request, pk: str) -> Response:
        referral = self.get_object()
        audit_record(request=request, action=Action.VIEW, obj=referral, patient=referral.patient)
        return Response(ReferralSerializer(referral).data)

    def create(self, request: Request) -> Response:
        data = _valid(CreateSerializer, request)
        consultation = patient = None
        if data.get("consultation"):
            consultation = (
                consultations_visible_to(request.user).filter(pk=data["consultation"]).first()
            )
            if consultation is None:
                raise Http404
        elif data.get("patient"):
            patient = patients_visible_to(request.user).filter(pk=data["patient"]).first()
            if patient is None:
                raise Http404
        try:
            referral = referral_create(
                actor=request.user,
                context=AuditContext.from_request(request),
                department=_department(data["department"]),
                urgency=data["urgency"],
                reason=data["reason"],
                consultation=consultation,
                patient=patient,
            )
        except ReferralError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ReferralSerializer(referral).data, status=status.HTTP_201_CREATED)

    def _run(self, request: Request, service: Any, **kwargs: Any) -> Response:
        """Run `service` on the visible referral; it writes the change and its audit row."""
        referral = self.get_object()
        try:
            service(
                referral=referral,
                actor=request.user,
                context=AuditContext.from_request(request),
                **kwargs,
            )
        except TransitionNotAllowed as exc:
            # The workflow table refuses it here (409) or for this person (403).
            return refused_api(request, exc, obj=referral, patient=referral.patient)
        except ReferralError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        referral.refresh_from_db()
        return Response(ReferralSerializer(referral).data)

    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        return self._run(request, referral_accept)

    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        return self._run(request, referral_decline, **_valid(DeclineSerializer, request))

    @action(detail=True, methods=["post"])
    def redirect(self, request: Request, pk: str) -> Response:
        data = _valid(RedirectSerializer, request)
        return self._run(request, referral_redirect, department=_department(data["department"]))

    @action(detail=True, methods=["post"])
    def schedule(self, request: Request, pk: str) -> Response:
        return self._run(request, referral_schedule, **_valid(ScheduleSerializer, request))

    @action(detail=True, methods=["post"])
    def depart(self, request: Request, pk: str) -> Response:
        return self._run(request, referral_depart)

    @action(detail=True, methods=["post"])
    def arrive(self, request: Request, pk: str) -> Response:
        return self._run(request, referral_arrive)

    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        return self._run(request, referral_complete, **_valid(CompleteSerializer, request))

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._run(request, referral_cancel, **_valid(CancelSerializer, request))


def _valid(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
