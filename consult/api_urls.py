from rest_framework.routers import DefaultRouter

from consult import api

router = DefaultRouter()
router.register("hospitals", api.HospitalViewSet, basename="hospital")
router.register("users", api.UserViewSet, basename="user")
router.register("patients", api.PatientViewSet, basename="patient")

urlpatterns = router.urls
