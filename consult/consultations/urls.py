from django.urls import path

from consult.consultations import views as v

urlpatterns = [
    path("consultations/", v.consultation_list, name="consultation-list"),
    path("consultations/new/", v.consultation_new, name="consultation-new"),
    path(
        "consultations/studies/<int:patient_pk>/",
        v.patient_studies_json,
        name="consultation-patient-studies",
    ),
    path("consultations/<int:pk>/", v.consultation_detail, name="consultation-detail"),
    path("consultations/<int:pk>/edit/", v.consultation_edit, name="consultation-edit"),
    path("consultations/<int:pk>/thread/", v.consultation_thread, name="consultation-thread"),
    path(
        "consultations/<int:pk>/status/", v.consultation_status_fragment, name="consultation-status"
    ),
    path("consultations/<int:pk>/submit/", v.action_submit, name="consultation-submit"),
    path("consultations/<int:pk>/accept/", v.action_accept, name="consultation-accept"),
    path(
        "consultations/<int:pk>/request-info/",
        v.action_request_info,
        name="consultation-request-info",
    ),
    path("consultations/<int:pk>/messages/", v.action_message, name="consultation-message"),
    path("consultations/<int:pk>/cancel/", v.action_cancel, name="consultation-cancel"),
    path("consultations/<int:pk>/close/", v.action_close, name="consultation-close"),
    path("consultations/<int:pk>/reassign/", v.action_reassign, name="consultation-reassign"),
    path("consultations/<int:pk>/report/", v.action_report_save, name="consultation-report"),
    path(
        "consultations/<int:pk>/report/amend/",
        v.action_report_amend,
        name="consultation-report-amend",
    ),
    path(
        "consultations/<int:pk>/reports/<int:version>/pdf/",
        v.report_pdf_download,
        name="consultation-report-pdf",
    ),
    path(
        "consultations/<int:pk>/attachments/<int:attachment_id>/",
        v.attachment_download,
        name="consultation-attachment",
    ),
    path("worklist/", v.worklist, name="worklist"),
    path("coordinator/dashboard/", v.dashboard, name="coordinator-dashboard"),
    path("home/live/", v.home_fragment, name="home-live"),
    path("notifications/", v.notification_list, name="notification-list"),
    path("notifications/count/", v.notification_count, name="notification-count"),
    path("sla-policy/", v.sla_policy_edit, name="sla-policy"),
]
