from django import forms
from django.contrib import admin

from consult import services
from consult.models import (
    Department,
    Guardian,
    Hospital,
    OnCallShift,
    Patient,
    PatientIdentifier,
    User,
)
from core.audit import AuditContext


@admin.register(Hospital)
class HospitalAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "tier", "province", "city", "is_active"]
    list_filter = ["tier", "is_active", "province"]
    search_fields = ["code", "name_zh", "name_en"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name_zh", "hospital", "accepts_referrals", "is_active"]
    list_select_related = ["hospital"]


class UserAdminForm(forms.ModelForm):
    def clean(self) -> dict:
        data = super().clean()
        services.user_check_hospital(role=data.get("role"), hospital=data.get("hospital"))
        return data


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserAdminForm
    list_display = ["username", "full_name", "role", "hospital", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["username", "full_name"]
    exclude = ["password"]

    def save_model(self, request, obj, form, change) -> None:  # noqa: ANN001
        # Through the service, as the directory pages: an access change takes effect at once.
        services.user_save(actor=request.user, user=obj, context=AuditContext.from_request(request))


@admin.register(OnCallShift)
class OnCallShiftAdmin(admin.ModelAdmin):
    list_display = ["specialist", "subspecialty", "start", "end"]


class IdentifierInline(admin.TabularInline):
    model = PatientIdentifier
    extra = 0


class GuardianInline(admin.TabularInline):
    model = Guardian
    extra = 0


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["name", "sex", "birth_date", "home_hospital"]
    inlines = [IdentifierInline, GuardianInline]
