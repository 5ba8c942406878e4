from rest_framework.routers import DefaultRouter

from consult import api
from consult.consultations.api import ConsultationViewSet

router = DefaultRouter()
router.register("hospitals", api.HospitalViewSet, basename="hospital")
router.register("users", api.UserViewSet, basename="user")
router.register("patients", api.PatientViewSet, basename="patient")
router.register("consultations", ConsultationViewSet, basename="api-consultation")

urlpatterns = router.urls
