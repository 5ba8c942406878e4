from django.urls import path

from referrals import views

app_name = "referrals"

urlpatterns = [
    path("", views.referral_list, name="list"),
    path("new/", views.referral_new, name="new"),
    path("<int:pk>/", views.referral_detail, name="detail"),
    path("<int:pk>/live/", views.referral_live_fragment, name="live"),
    path("<int:pk>/sheet.pdf", views.referral_sheet, name="sheet"),
    path("<int:pk>/report.pdf", views.referral_report, name="report"),
    path("<int:pk>/<slug:action>/", views.referral_action, name="action"),
]
