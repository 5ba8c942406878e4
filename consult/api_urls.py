from rest_framework.routers import DefaultRouter

from consult.consultation_api import ConsultationViewSet

router = DefaultRouter()
router.register("consultations", ConsultationViewSet, basename="api-consultation")

urlpatterns = router.urls
