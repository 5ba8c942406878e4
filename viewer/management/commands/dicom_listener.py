from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from viewer.integrations.listener import start_listener


class Command(BaseCommand):
    help = "Run the DICOM C-STORE listener (DICOM_AE_TITLE on DICOM_PORT)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"] or settings.DICOM_PORT
        self.stdout.write(f"DICOM listener {settings.DICOM_AE_TITLE} on port {port}")
        start_listener(host=options["host"], port=port, block=True)
