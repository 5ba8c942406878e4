"""Parent portal pages. Thin: each view reads the portal cookie, calls one service, renders.

The link's token is only ever in the first URL: it is exchanged at once for a signed,
short-lived, HttpOnly cookie and the browser is redirected to a clean URL.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.timezone import localdate
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consult.ages import pediatric_age
from consult.consultations.report_pdf import report_pdf
from consult.consultations.report_templates import TEMPLATES, display_rows
from consult.models import Guardian, PortalShare, Report, User
from consult.portal import services as svc
from consult.portal.limits import LimiterUnavailable
from consult.portal.selectors import green_channel_appointment, key_images
from consult.selectors import consultations_visible_to, get_visible_or_404
from core.audit import Action, AuditContext
from core.refusals import refused_page
from core.transitions import TransitionNotAllowed

COOKIE = "pl_portal"
COOKIE_PATH = "/p/"
SALT = "pedslink.portal"

DOB, CODE, OK = "dob", "code", "ok"
PHONE_IMAGE_PIXELS = 1024


def session_seconds() -> int:
    return int(getattr(settings, "PORTAL_SESSION_MINUTES", 30)) * 60


def portal_view(func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Every portal response: no referrer leaves the page, nothing is cached or indexed."""

    @wraps(func)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = func(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store, private"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapper


# --- the cookie -------------------------------------------------------------------------------


def _set_state(
    response: HttpResponse, share: PortalShare, stage: str, key: str = ""
) -> HttpResponse:
    """`key` is the visit's form key: forms echo it back (see `_form_ok`)."""
    response.set_signed_cookie(
        COOKIE,
        json.dumps({"s": share.pk, "st": stage, "k": key or secrets.token_urlsafe(16)}),
        salt=SALT,
        max_age=session_seconds(),
        path=COOKIE_PATH,
        httponly=True,
        # As the staff session cookie: on unless a trial serves plain http (`make run`).
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )
    return response


def _state(request: HttpRequest) -> tuple[PortalShare | None, str]:
    try:
        raw = request.get_signed_cookie(COOKIE, salt=SALT, max_age=session_seconds())
        data = json.loads(raw)
        share_id, stage = int(data["s"]), str(data["st"])
        request.portal_key = str(data["k"])  # type: ignore[attr-defined]
    except (KeyError, ValueError, TypeError, signing.BadSignature):
        return None, ""
    share = (
        PortalShare.objects.select_related(
            "report__consultation__hospital", "report__author__hospital", "guardian", "patient"
        )
        .filter(pk=share_id)
        .first()
    )
    return share, stage


def _form_ok(request: HttpRequest) -> bool:
    """Portal pages send no referrer, so browsers POST with `Origin: null` and Django's CSRF
    check cannot run. Instead: the cookie is SameSite=Lax (never sent on a cross-site POST)
    and each form carries the visit's random key, which a foreign page cannot know."""
    key = getattr(request, "portal_key", "")
    return bool(key) and secrets.compare_digest(request.POST.get("k", ""), key)


def _problem(
    request: HttpRequest, kind: str, share: PortalShare | None = None, status: int = 410
) -> HttpResponse:
    hospital = share.report.consultation.hospital if share is not None else None
    response = render(
        request,
        "portal/problem.html",
        {"kind": kind, "hospital": hospital},
        status=status,
    )
    if kind not in ("no_image", "unavailable"):
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
    # Django would log "Gone: /p/<token>": a link's token does not belong in the logs.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _signed_in(request: HttpRequest) -> User | None:
    """A staff member signed in on the guardian's browser: their name goes on the audit row too."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _session_share(request: HttpRequest, stage: str) -> PortalShare | HttpResponse:
    """The share of a verified (stage `ok`) or half-way session, or the page that says why not."""
    share, have = _state(request)
    if share is None:
        return _problem(request, "no_session", status=403)
    checked = svc.usable_or_problem(share)
    if isinstance(checked, svc.LinkProblem):
        return _problem(request, checked.kind, share)
    if have != stage:
        return redirect("portal-home")
    return share


# --- the guardian's pages ---------------------------------------------------------------------


@portal_view
@require_GET
def portal_open(request: HttpRequest, token: str) -> HttpResponse:
    found = svc.portal_share_for_token(token)
    if isinstance(found, svc.LinkProblem):
        if found.share is None:
            svc.portal_link_refused(
                reason=found.kind,
                context=AuditContext.from_request(request),
                user=_signed_in(request),
            )
        return _problem(request, found.kind, found.share, status=404 if not found.share else 410)
    return _set_state(redirect("portal-home"), found, DOB)


@portal_view
def portal_malformed(request: HttpRequest, junk: str = "") -> HttpResponse:
    svc.portal_link_refused(
        reason="malformed", context=AuditContext.from_request(request), user=_signed_in(request)
    )
    return _problem(request, "malformed", status=404)


def _parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        return None


@portal_view
@csrf_exempt
@require_http_methods(["GET", "POST"])
def portal_home(request: HttpRequest) -> HttpResponse:
    share, stage = _state(request)
    if share is None or (request.method == "POST" and not _form_ok(request)):
        return _problem(request, "no_session", status=403)
    checked = svc.usable_or_problem(share)
    if isinstance(checked, svc.LinkProblem):
        return _problem(request, checked.kind, share)
    if stage == OK:
        return redirect("portal-report")
    error, left = "", None
    try:
        if request.method == "POST":
            action = request.POST.get("action", "")
            if stage == DOB and action == "dob":
                target = svc.portal_check_birth_date(
                    share=share,
                    birth_date=_parse_date(request.POST.get("birth_date", "")),
                    context=AuditContext.from_request(request),
                )
                response = redirect("portal-home")
                if target.pk != share.pk:
                    response["Location"] += "?newer=1"
                return _set_state(response, target, CODE, request.portal_key)
            if stage == CODE and action == "code":
                svc.portal_check_code(
                    share=share,
                    code=request.POST.get("code", ""),
                    context=AuditContext.from_request(request),
                )
                return _set_state(redirect("portal-report"), share, OK, request.portal_key)
            if stage == CODE and action == "resend":
                svc.portal_code_send(share=share)
                messages.info(request, _("A new code is on its way."))
                return redirect("portal-home")
    except svc.PortalNotAllowed:
        # Revoked or expired between the check above and the service: the link is gone.
        share.refresh_from_db()
        return _problem(request, share.state, share)
    except svc.PortalAttemptError as exc:
        error, left = str(exc), exc.left
    except svc.PortalError as exc:
        error = str(exc)
    except LimiterUnavailable:
        return _problem(request, "unavailable", share, status=503)
    context = {
        "share": share,
        "stage": stage,
        "error": error,
        "left": left,
        "newer": request.GET.get("newer") == "1",
        "superseded": share.report.status == Report.Status.SUPERSEDED,
        "phone_tail": share.guardian.mobile[-4:],
        "hospital": share.report.consultation.hospital,
    }
    template = "portal/code.html" if stage == CODE else "portal/birth_date.html"
    return render(request, template, context, status=429 if left == 0 and error else 200)


@portal_view
@csrf_exempt
@require_http_methods(["GET", "POST"])
def portal_report(request: HttpRequest) -> HttpResponse:
    share = _session_share(request, OK)
    if isinstance(share, HttpResponse):
        return share
    if request.method == "POST" and not _form_ok(request):
        return _problem(request, "no_session", status=403)
    report = share.report
    if report.status == Report.Status.SUPERSEDED:
        if request.method == "POST":
            try:
                target = svc.portal_code_send_current(share=share)
            except svc.PortalError as exc:
                messages.error(request, str(exc))
                return redirect("portal-report")
            except LimiterUnavailable:
                return _problem(request, "unavailable", share, status=503)
            return _set_state(
                redirect(reverse("portal-home") + "?newer=1"), target, CODE, request.portal_key
            )
        # 409: this version may no longer be read; the page offers the current one.
        return render(request, "portal/superseded.html", {"share": share}, status=409)
    svc.portal_report_viewed(
        share=share, context=AuditContext.from_request(request), user=_signed_in(request)
    )
    consultation = report.consultation
    child = share.patient
    studies = list(consultation.studies.all())
    exam_date = min((s.study_date for s in studies if s.study_date), default=None)
    template = TEMPLATES.get(report.template)
    context = {
        "share": share,
        "report": report,
        "child": child,
        "age": pediatric_age(child.birth_date, exam_date or localdate()),
        "studies": studies,
        "rows": display_rows(template, report.data) if template else [],
        "images": range(len(key_images(report))),
        "referral": green_channel_appointment(report),
        "hospital": consultation.hospital,
        "expert": report.author.hospital,
    }
    return render(request, "portal/report.html", context)


@portal_view
@require_GET
def portal_image(request: HttpRequest, n: int) -> HttpResponse:
    from viewer.rendering import cache as render_cache
    from viewer.rendering.render import RenderOptions

    share = _session_share(request, OK)
    if isinstance(share, HttpResponse):
        return share
    images = key_images(share.report)
    if share.report.status != Report.Status.SIGNED or not 0 <= n < len(images):
        return _problem(request, "no_image", share, status=404)
    instance = images[n]
    frame = instance.number_of_frames // 2 if instance.number_of_frames > 1 else 0
    # The render task has already cached every frame at the default window; only images
    # larger than a phone needs are reduced (once, then cached) to spare a slow connection.
    big = max(instance.rows or 0, instance.columns or 0) > PHONE_IMAGE_PIXELS
    options = RenderOptions(
        frame=frame, viewport=(PHONE_IMAGE_PIXELS, PHONE_IMAGE_PIXELS) if big else None
    )
    result = render_cache.rendered(instance, options)
    svc.portal_report_viewed(
        share=share,
        context=AuditContext.from_request(request),
        user=_signed_in(request),
        what=f"key image {n + 1}",
    )
    response = HttpResponse(result.data, content_type=result.media_type)
    response["Content-Disposition"] = "inline"
    return response


@portal_view
@require_GET
def portal_pdf(request: HttpRequest) -> HttpResponse:
    share = _session_share(request, OK)
    if isinstance(share, HttpResponse):
        return share
    if share.report.status != Report.Status.SIGNED:
        return redirect("portal-report")
    data = report_pdf(share.report)
    svc.portal_report_viewed(
        share=share,
        context=AuditContext.from_request(request),
        user=_signed_in(request),
        what="pdf",
        action=Action.EXPORT,
    )
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="report-{share.report.consultation_id}-v{share.report.version}.pdf"'
    )
    return response


@portal_view
@csrf_exempt
@require_POST
def portal_leave(request: HttpRequest) -> HttpResponse:
    _state(request)
    if not _form_ok(request):
        return _problem(request, "no_session", status=403)
    response = render(request, "portal/problem.html", {"kind": "left"})
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


@portal_view
@require_GET
def portal_language(request: HttpRequest, code: str) -> HttpResponse:
    """The language switch as a link: the form-based `set_language` needs a CSRF Origin check
    that no-referrer pages cannot pass. Only portal pages are valid targets."""
    target = request.GET.get("next", "")
    if not target.startswith("/p/") or "//" in target:
        target = reverse("portal-home")
    response = redirect(target)
    if code in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=settings.LANGUAGE_COOKIE_SECURE,
        )
    return response


# --- the doctor's side ------------------------------------------------------------------------


@login_required
@require_POST
def staff_share(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = get_visible_or_404(
        request, consultations_visible_to(request.user), pk=pk, object_type="consultation"
    )
    report = consultation.reports.filter(status=Report.Status.SIGNED).order_by("-version").first()
    ids = [int(v) for v in request.POST.getlist("guardian") if v.isdigit()]
    guardians = Guardian.objects.filter(patient_id=consultation.patient_id, pk__in=ids)
    back = reverse("consultation-detail", args=[pk]) + "#portal"
    try:
        if report is None:
            raise svc.PortalNotAllowed(_("There is no signed report to share yet."), "share")
        shares = svc.portal_share_create(
            report=report,
            guardians=guardians,
            user=request.user,
            context=AuditContext.from_request(request),
        )
    except TransitionNotAllowed as exc:
        return refused_page(request, exc, obj=consultation, patient=consultation.patient, back=back)
    except svc.PortalError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Text message sent to %(n)s guardian(s).") % {"n": len(shares)})
    return redirect(reverse("consultation-detail", args=[pk]) + "#portal")


@login_required
@require_POST
def staff_revoke(request: HttpRequest, share_id: int) -> HttpResponse:
    share = get_object_or_404(
        PortalShare.objects.select_related("report__consultation"),
        pk=share_id,
        report__consultation__in=consultations_visible_to(request.user),
    )
    back = reverse("consultation-detail", args=[share.report.consultation_id]) + "#portal"
    try:
        svc.portal_token_revoke(
            share=share, user=request.user, context=AuditContext.from_request(request)
        )
    except TransitionNotAllowed as exc:
        return refused_page(request, exc, obj=share, patient=share.patient, back=back)
    except svc.PortalError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The link was revoked; it no longer opens the report."))
    return redirect(reverse("consultation-detail", args=[share.report.consultation_id]) + "#portal")
