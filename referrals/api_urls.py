from rest_framework.routers import DefaultRouter

from referrals.api import ReferralViewSet

router = DefaultRouter()
router.register("", ReferralViewSet, basename="api-referral")

urlpatterns = router.urls
