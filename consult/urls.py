from django.contrib.auth import views as auth_views
from django.urls import include, path

from consult import login_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", login_views.PasswordLoginView.as_view(), name="login"),
    path("login/verify/", login_views.second_factor, name="login-verify"),
    path("login/enrol/", login_views.enrol, name="login-enrol"),
    path("account/backup-codes/", login_views.backup_codes, name="backup-codes"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("directory/hospitals/", views.HospitalListView.as_view(), name="hospital-list"),
    path("directory/hospitals/new/", views.HospitalEditView.as_view(), name="hospital-create"),
    path(
        "directory/hospitals/<int:pk>/", views.HospitalDetailView.as_view(), name="hospital-detail"
    ),
    path(
        "directory/hospitals/<int:pk>/edit/",
        views.HospitalEditView.as_view(),
        name="hospital-edit",
    ),
    path(
        "directory/departments/new/", views.DepartmentEditView.as_view(), name="department-create"
    ),
    path(
        "directory/departments/<int:pk>/edit/",
        views.DepartmentEditView.as_view(),
        name="department-edit",
    ),
    path("directory/users/", views.UserListView.as_view(), name="user-list"),
    path("directory/users/new/", views.UserEditView.as_view(), name="user-create"),
    path("directory/users/<int:pk>/edit/", views.UserEditView.as_view(), name="user-edit"),
    path(
        "directory/users/<int:pk>/second-factor/reset/",
        views.UserSecondFactorResetView.as_view(),
        name="user-second-factor-reset",
    ),
    path("directory/login-locks/unlock/", views.LoginUnlockView.as_view(), name="login-unlock"),
    path("settings/security/", views.SecuritySettingsView.as_view(), name="security-settings"),
    path("directory/roster/", views.RosterView.as_view(), name="roster-list"),
    path(
        "directory/roster/<int:pk>/delete/",
        views.RosterDeleteView.as_view(),
        name="roster-delete",
    ),
    path("patients/", views.PatientListView.as_view(), name="patient-list"),
    path("patients/new/", views.PatientCreateView.as_view(), name="patient-create"),
    path("patients/<int:pk>/", views.PatientDetailView.as_view(), name="patient-detail"),
    path("patients/<int:pk>/edit/", views.PatientEditView.as_view(), name="patient-edit"),
    path("audit/", views.AuditListView.as_view(), name="audit-list"),
    path("", include("consult.consultations.urls")),
]
