"""Measurements API for the viewer (session auth with CSRF, like the rest of /api)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from viewer.access import audit_study_view, get_study_for
from viewer.manifest import measurement_json, study_measurements
from viewer.measurements import services
from viewer.models import Instance, Measurement


class MeasurementIn(serializers.Serializer):
    instance = serializers.CharField(max_length=64)
    frame = serializers.IntegerField(min_value=1, default=1)
    kind = serializers.ChoiceField(choices=Measurement.Kind.choices)
    points = serializers.JSONField()
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


def _error(message: str, code: int) -> Response:
    return Response({"detail": message}, status=code)


class StudyMeasurements(APIView):
    serializer_class = MeasurementIn

    def get(self, request: Request, study: str) -> Response:
        obj = get_study_for(request, study)
        audit_study_view(request, obj)
        return Response([measurement_json(m) for m in study_measurements(obj)])

    def post(self, request: Request, study: str) -> Response:
        obj = get_study_for(request, study)
        data = MeasurementIn(data=request.data)
        data.is_valid(raise_exception=True)
        instance = (
            Instance.objects.filter(
                series__study=obj, sop_instance_uid=data.validated_data["instance"]
            )
            .select_related("series__study")
            .first()
        )
        if instance is None:
            return _error(_("No such instance in this study."), status.HTTP_400_BAD_REQUEST)
        try:
            m = services.measurement_create(
                request=request,
                user=request.user,
                instance=instance,
                frame=data.validated_data["frame"],
                kind=data.validated_data["kind"],
                points=data.validated_data["points"],
                note=data.validated_data["note"],
            )
        except PermissionDenied as exc:
            return _error(str(exc), status.HTTP_403_FORBIDDEN)
        except ValidationError as exc:
            return _error(" ".join(exc.messages), status.HTTP_400_BAD_REQUEST)
        m.created_by = request.user
        return Response(measurement_json(m), status=status.HTTP_201_CREATED)


class MeasurementDetail(APIView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, study: str, pk: int) -> Response:
        obj = get_study_for(request, study)
        measurement = Measurement.objects.filter(study=obj, pk=pk).select_related("study").first()
        if measurement is None:
            return _error(_("No such measurement."), status.HTTP_404_NOT_FOUND)
        try:
            services.measurement_delete(request=request, user=request.user, measurement=measurement)
        except PermissionDenied as exc:
            return _error(str(exc), status.HTTP_403_FORBIDDEN)
        return Response(status=status.HTTP_204_NO_CONTENT)
