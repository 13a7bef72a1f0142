"""The live stream (Server-Sent Events)."""

from __future__ import annotations

from flask import Response, request

from dashboard import state
from dashboard.api import bp
from dashboard.errors import ApiError
from dashboard.services import services


@bp.get("/stream")
def stream():
    """Events as they are stored, the live weight, reminder and health; keep-alives."""
    svc = services()
    hub = svc.extras["live"]
    q = hub.open()
    if q is None:
        raise ApiError(503, "too many live streams are open; close a tab", headers={"Retry-After": "10"})
    tz = svc.effective.tz
    body = hub.stream(q, lambda: state.live(svc), tz, request.environ.get("waitress.client_disconnected"))
    response = Response(body, mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    response.call_on_close(lambda: hub.release(q))
    return response
