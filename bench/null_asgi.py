"""A Python ASGI app that does nothing but read the request body and answer 200.

The imaging benchmark sends it the same STOW-RS requests as PedsLink and Orthanc: its rate is
the ceiling of any Python web server behind uvicorn with that client on this machine, so the
STOW line's target can be read against what the stack itself allows.
"""


async def app(scope, receive, send):  # noqa: ANN001, ANN201 - the ASGI signature
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/dicom+json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"{}"})
