"""The project's URLs plus one view that fails, for the 500 page test."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from pedslink.urls import urlpatterns as project_urlpatterns


def fails(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret-detail-in-the-traceback")


urlpatterns = [path("fails/", fails), *project_urlpatterns]
