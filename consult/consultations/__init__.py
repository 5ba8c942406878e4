"""Consultations: the workflow (services), its reads (selectors), the SLA (sla), reports,
and the pages, API and websocket that show them."""
