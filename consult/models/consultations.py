"""Consultations: the request, its state machine, assignments, timeline and message thread."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from consult.models.directory import Subspecialty
from core.transitions import Rule, from_states


class Priority(models.TextChoices):
    ROUTINE = "routine", _("Routine")
    URGENT = "urgent", _("Urgent")


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted (waiting for a specialist)")
    ASSIGNED = "assigned", _("Assigned")
    IN_REVIEW = "in_review", _("In review")
    INFO_REQUESTED = "info_requested", _("Information requested")
    REPORTED = "reported", _("Reported")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


# The one table of allowed moves (STYLE.md "State machines"). Self-moves on ASSIGNED and
# INFO_REQUESTED are reassignments that keep the status.
TRANSITIONS: dict[str, set[str]] = {
    Status.DRAFT: {Status.SUBMITTED, Status.CANCELLED},
    Status.SUBMITTED: {Status.ASSIGNED, Status.CANCELLED},
    Status.ASSIGNED: {Status.IN_REVIEW, Status.ASSIGNED, Status.SUBMITTED, Status.CANCELLED},
    Status.IN_REVIEW: {
        Status.INFO_REQUESTED,
        Status.REPORTED,
        Status.ASSIGNED,
        Status.SUBMITTED,
    },
    Status.INFO_REQUESTED: {Status.IN_REVIEW, Status.INFO_REQUESTED},
    Status.REPORTED: {Status.CLOSED},
    Status.CLOSED: set(),
    Status.CANCELLED: set(),
}

# Cases that count as load for a specialist and that the SLA clock watches.
OPEN_STATUSES = (Status.SUBMITTED, Status.ASSIGNED, Status.IN_REVIEW, Status.INFO_REQUESTED)


class Actor:
    """Who a user is for one case (`consult.consultations.services.consultation_actors`)."""

    REFERRING = "referring"  # a referring doctor of the case's hospital
    ASSIGNEE = "assignee"  # the specialist the case is assigned to now
    QUEUE = "queue"  # a specialist of the case's subspecialty, while nobody has it
    COORDINATOR = "coordinator"
    AMENDER = "amender"  # the author of the amendment being written
    SIGNER = "signer"  # the author of the current signed report
    ANYONE = "anyone"  # anyone the case is visible to (the selectors decide)


_AMENDABLE = (Status.REPORTED, Status.CLOSED)

# What a person may do to a case, from which status, with what result (STYLE.md "State
# machines"). The services check it before they write
# (`consult.consultations.services.consultation_allowed`);
# `TRANSITIONS` above is the lower-level graph the one transition function follows, which
# also carries the SLA ladder's moves (no person: `consult.consultations.sla`).
ACTIONS: dict[str, Rule] = {
    "edit": Rule(
        _("edit the request"),
        from_states([Status.DRAFT]),
        frozenset({Actor.REFERRING}),
        _("Only the referring hospital can edit this request."),
        refusals=dict.fromkeys(
            set(Status.values) - {Status.DRAFT}, _("Only a draft can be edited.")
        ),
    ),
    "submit": Rule(
        _("submit"),
        from_states([Status.DRAFT], Status.SUBMITTED),
        frozenset({Actor.REFERRING}),
        _("Only the referring hospital can submit this request."),
    ),
    "cancel": Rule(
        _("cancel"),
        from_states([Status.DRAFT, Status.SUBMITTED, Status.ASSIGNED], Status.CANCELLED),
        frozenset({Actor.REFERRING, Actor.COORDINATOR}),
        _("Only the referring hospital or a coordinator can cancel."),
    ),
    "accept": Rule(
        _("accept"),
        from_states([Status.SUBMITTED, Status.ASSIGNED], Status.IN_REVIEW),
        frozenset({Actor.ASSIGNEE, Actor.QUEUE}),
        _("Only a specialist can accept a case."),
    ),
    "reassign": Rule(
        _("reassign"),
        {
            Status.SUBMITTED: Status.ASSIGNED,
            Status.ASSIGNED: Status.ASSIGNED,
            Status.IN_REVIEW: Status.ASSIGNED,
            # A paused case stays paused with its new specialist (the answer must reach one).
            Status.INFO_REQUESTED: Status.INFO_REQUESTED,
        },
        frozenset({Actor.COORDINATOR}),
        _("Only a coordinator can reassign a case."),
    ),
    "requeue": Rule(
        _("send back to the queue"),
        from_states([Status.ASSIGNED, Status.IN_REVIEW], Status.SUBMITTED),
        frozenset({Actor.COORDINATOR}),
        _("Only a coordinator can reassign a case."),
        refusals={
            Status.INFO_REQUESTED: _(
                "Choose a specialist: a case waiting for information keeps one, so that the "
                "answer reaches somebody."
            )
        },
    ),
    "request_info": Rule(
        _("ask for information"),
        from_states([Status.IN_REVIEW], Status.INFO_REQUESTED),
        frozenset({Actor.ASSIGNEE}),
        _("Only the specialist reading the case can ask for information."),
    ),
    "message": Rule(
        _("write in the thread"),
        from_states([*OPEN_STATUSES, Status.REPORTED]),
        frozenset({Actor.ANYONE}),
        _("Only the people working on this case can write in its thread."),
        refusals=dict.fromkeys(
            [Status.DRAFT, Status.CLOSED, Status.CANCELLED],
            _("This case is not open; messages can no longer be added."),
        ),
    ),
    "add_images": Rule(
        _("add images"),
        from_states([*OPEN_STATUSES, Status.REPORTED]),
        frozenset({Actor.REFERRING}),
        _("Only the referring hospital can add images to this case."),
    ),
    "answer": Rule(
        _("answer the information request"),
        from_states([Status.INFO_REQUESTED], Status.IN_REVIEW),
        frozenset({Actor.REFERRING}),
        _("Only the referring hospital can answer the specialist's question."),
        automatic=True,
    ),
    "write_report": Rule(
        _("write the report"),
        from_states([Status.IN_REVIEW]),
        frozenset({Actor.ASSIGNEE}),
        _("Only the specialist reading this case can write its report."),
    ),
    "sign": Rule(
        _("sign the report"),
        from_states([Status.IN_REVIEW], Status.REPORTED),
        frozenset({Actor.ASSIGNEE}),
        _("Only the specialist reading this case can sign its report."),
    ),
    "amend": Rule(
        _("amend the signed report"),
        from_states(_AMENDABLE),
        frozenset({Actor.SIGNER, Actor.ASSIGNEE}),
        _("Only the specialist who signed the report can amend it."),
        refusals=dict.fromkeys(
            set(Status.values) - set(_AMENDABLE), _("Only a signed report can be amended.")
        ),
    ),
    "write_amendment": Rule(
        _("write the amendment"),
        from_states(_AMENDABLE),
        frozenset({Actor.AMENDER}),
        _("Only the specialist who started the amendment can write it."),
    ),
    "sign_amendment": Rule(
        _("sign the amendment"),
        from_states(_AMENDABLE),
        frozenset({Actor.AMENDER}),
        _("Only the specialist who started the amendment can sign it."),
    ),
    "close": Rule(
        _("close"),
        from_states([Status.REPORTED], Status.CLOSED),
        frozenset({Actor.REFERRING, Actor.COORDINATOR}),
        _("Only the referring hospital or a coordinator can close."),
    ),
}


class Consultation(models.Model):
    patient = models.ForeignKey(
        "consult.Patient",
        on_delete=models.PROTECT,
        related_name="consultations",
        verbose_name=_("child"),
    )
    hospital = models.ForeignKey(
        "consult.Hospital",
        on_delete=models.PROTECT,
        related_name="consultations",
        verbose_name=_("referring hospital"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="requested_consultations",
        verbose_name=_("referring doctor"),
    )
    subspecialty = models.CharField(
        _("subspecialty wanted"),
        max_length=20,
        choices=Subspecialty.choices,
        default=Subspecialty.GENERAL,
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.ROUTINE
    )
    urgent_reason = models.CharField(_("reason for urgency"), max_length=300, blank=True)
    clinical_history = models.TextField(_("clinical history"), blank=True)
    question = models.TextField(_("question for the specialist"), blank=True)
    studies = models.ManyToManyField(
        "viewer.Study", blank=True, related_name="consultations", verbose_name=_("studies")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_consultations",
        verbose_name=_("specialist"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported"), null=True, blank=True)
    # The SLA clock (see consult/consultations/sla.py): paused time so far and the start of a
    # running pause.
    sla_paused_seconds = models.PositiveIntegerField(default=0)
    sla_paused_since = models.DateTimeField(null=True, blank=True)
    # Ladder progress: 0 nothing done, 1 reminded, 2 warned, 3 breached, 3+n n-th repeat.
    sla_stage = models.PositiveSmallIntegerField(default=0)
    breached_at = models.DateTimeField(_("breached"), null=True, blank=True)
    # When the sweep must next look at this case; NULL when the clock is not running.
    next_deadline = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "assigned_to"]),
            models.Index(fields=["hospital", "status"]),
            models.Index(fields=["subspecialty", "status"]),
        ]
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")

    def __str__(self) -> str:
        return f"#{self.pk} {self.patient} · {self.get_status_display()}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ConsultationAssignment(models.Model):
    """Every (re)assignment: who got the case, when and why. Access follows it ("before")."""

    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="assignments"
    )
    specialist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments"
    )
    at = models.DateTimeField(db_index=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["specialist", "at"])]

    def __str__(self) -> str:
        return f"{self.consultation_id} → {self.specialist_id}"


class ConsultationEvent(models.Model):
    """One row per change: the case's timeline and its audit trail."""

    class Kind(models.TextChoices):
        STATUS = "status", _("Status changed")
        ASSIGNED = "assigned", _("Assigned")
        SLA_REMIND = "sla_remind", _("Specialist reminded")
        SLA_WARN = "sla_warn", _("Coordinator warned: target passed")
        SLA_BREACH = "sla_breach", _("Deadline breached, reassigned")
        SLA_REASSIGN = "sla_reassign", _("Still overdue, reassigned again")
        REPORT_SIGNED = "report_signed", _("Report signed")
        REPORT_AMENDED = "report_amended", _("Report amended")

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    # For SLA steps: the ladder stage. Unique per case so a step can never be recorded twice.
    sla_stage = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["consultation", "sla_stage"],
                condition=models.Q(sla_stage__isnull=False),
                name="sla_step_once_per_stage",
            )
        ]
        indexes = [models.Index(fields=["kind", "at"])]
        verbose_name = _("consultation event")
        verbose_name_plural = _("consultation timeline")

    def __str__(self) -> str:
        return f"{self.consultation_id} {self.kind} {self.from_status}→{self.to_status}"


class Message(models.Model):
    class Kind(models.TextChoices):
        MESSAGE = "message", _("Message")
        INFO_REQUEST = "info_request", _("Information request")
        ANSWER = "answer", _("Answer")

    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="messages"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MESSAGE)
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return f"{self.consultation_id} {self.author_id} {self.created_at:%Y-%m-%d %H:%M}"


class MessageReceipt(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="receipts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="uniq_receipt_per_reader")
        ]

    def __str__(self) -> str:
        return f"{self.message_id} read by {self.user_id}"


class Attachment(models.Model):
    """A non-DICOM file on a consultation (a letter, a lab result), optionally on a message."""

    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="attachments"
    )
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    file = models.FileField(upload_to="attachments/%Y/%m/")
    name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name
