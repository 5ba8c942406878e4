"""Websocket routes of every app, gathered in one list for asgi.py."""

from django.urls import path

from consult import consumers
from consult.consultations.consumers import ConsultationConsumer
from referrals.consumers import ReferralConsumer

websocket_urlpatterns: list = [
    path("ws/live/", consumers.UserLiveConsumer.as_asgi()),
    path("ws/consultations/<int:pk>/", ConsultationConsumer.as_asgi()),
    path("ws/referrals/<int:pk>/", ReferralConsumer.as_asgi()),
]
