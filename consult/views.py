from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from consult.models import Role

ROLE_HOMES = {
    Role.REFERRING_DOCTOR: "consult/home_referring.html",
    Role.SPECIALIST: "consult/home_specialist.html",
    Role.COORDINATOR: "consult/home_coordinator.html",
    Role.ADMIN: "consult/home_admin.html",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on the page that says what it does next."""
    return render(request, ROLE_HOMES[request.user.role], {})
