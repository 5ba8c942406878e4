"""Green-channel referrals: a child's transfer to a receiving department, its state machine,
timeline and the deadline policy (data, like the consultation SLA policy)."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from consult.models import TransferUrgency
from core.transitions import Rule, from_states

Urgency = TransferUrgency


class Status(models.TextChoices):
    REQUESTED = "requested", _("Requested (waiting for the department)")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined (coordinator to redirect)")
    SCHEDULED = "scheduled", _("Scheduled")
    IN_TRANSIT = "in_transit", _("In transit")
    ARRIVED = "arrived", _("Arrived")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


# The one table of allowed moves (STYLE.md "State machines"). SCHEDULED → SCHEDULED is a
# new date or place; DECLINED → REQUESTED is the coordinator sending it to another department.
TRANSITIONS: dict[str, set[str]] = {
    Status.REQUESTED: {Status.ACCEPTED, Status.DECLINED, Status.CANCELLED},
    Status.DECLINED: {Status.REQUESTED, Status.CANCELLED},
    Status.ACCEPTED: {Status.SCHEDULED, Status.CANCELLED},
    Status.SCHEDULED: {Status.SCHEDULED, Status.IN_TRANSIT, Status.ARRIVED, Status.CANCELLED},
    Status.IN_TRANSIT: {Status.ARRIVED, Status.CANCELLED},
    Status.ARRIVED: {Status.COMPLETED},
    Status.COMPLETED: set(),
    Status.CANCELLED: set(),
}

OPEN_STATUSES = (
    Status.REQUESTED,
    Status.DECLINED,
    Status.ACCEPTED,
    Status.SCHEDULED,
    Status.IN_TRANSIT,
    Status.ARRIVED,
)
# Statuses whose deadline the sweep watches: acceptance, then scheduling.
DEADLINE_STATUSES = (Status.REQUESTED, Status.ACCEPTED)


class Actor:
    """Who a user is for one referral (`referrals.services.referral_actors`)."""

    DEPARTMENT = "department"  # acts for the receiving department (members, head, its coordinators)
    SOURCE = "source"  # a referring doctor of the referring hospital
    COORDINATOR = "coordinator"


_BEFORE_ARRIVAL = (
    Status.REQUESTED,
    Status.DECLINED,
    Status.ACCEPTED,
    Status.SCHEDULED,
    Status.IN_TRANSIT,
)

# What a person may do to a referral, from which status, with what result. The services check
# it before they write (`referrals.services.referral_allowed`); `TRANSITIONS` above is the
# graph the one transition function follows.
ACTIONS: dict[str, Rule] = {
    "accept": Rule(
        _("accept the child"),
        from_states([Status.REQUESTED], Status.ACCEPTED),
        frozenset({Actor.DEPARTMENT}),
        _("Only the receiving department can do this."),
    ),
    "decline": Rule(
        _("decline the referral"),
        from_states([Status.REQUESTED], Status.DECLINED),
        frozenset({Actor.DEPARTMENT}),
        _("Only the receiving department can do this."),
    ),
    "redirect": Rule(
        _("send to another department"),
        from_states([Status.DECLINED], Status.REQUESTED),
        frozenset({Actor.COORDINATOR}),
        _("Only a coordinator can send a referral elsewhere."),
    ),
    "schedule": Rule(
        _("schedule the transfer"),
        # SCHEDULED → SCHEDULED: a new date or place, and a new text to the family.
        from_states([Status.ACCEPTED, Status.SCHEDULED], Status.SCHEDULED),
        frozenset({Actor.DEPARTMENT}),
        _("Only the receiving department can do this."),
        refusals=dict.fromkeys(
            [Status.REQUESTED, Status.DECLINED], _("Accept the referral before scheduling it.")
        ),
    ),
    "depart": Rule(
        _("record the departure"),
        from_states([Status.SCHEDULED], Status.IN_TRANSIT),
        frozenset({Actor.SOURCE, Actor.DEPARTMENT, Actor.COORDINATOR}),
        _("Only the hospitals involved or a coordinator can record this."),
    ),
    "arrive": Rule(
        _("record the arrival"),
        from_states([Status.SCHEDULED, Status.IN_TRANSIT], Status.ARRIVED),
        frozenset({Actor.DEPARTMENT}),
        _("Only the receiving department can do this."),
    ),
    "complete": Rule(
        _("complete the referral"),
        from_states([Status.ARRIVED], Status.COMPLETED),
        frozenset({Actor.DEPARTMENT}),
        _("Only the receiving department can do this."),
    ),
    "cancel": Rule(
        _("cancel the referral"),
        from_states(_BEFORE_ARRIVAL, Status.CANCELLED),
        frozenset({Actor.SOURCE, Actor.COORDINATOR}),
        _("Only the referring hospital or a coordinator can cancel."),
        refusals=dict.fromkeys(
            [Status.ARRIVED, Status.COMPLETED],
            _("The child has already arrived; a referral cannot be cancelled after arrival."),
        ),
    ),
}


class Transport(models.TextChoices):
    OWN = "own", _("Own transport")
    LOCAL_AMBULANCE = "local_ambulance", _("Local ambulance")
    CENTER_TEAM = "center_team", _("Expert center's transport team")


class DeclineReason(models.TextChoices):
    NO_BED = "no_bed", _("No bed or slot available")
    NOT_INDICATED = "not_indicated", _("Transfer not indicated")
    WRONG_DEPARTMENT = "wrong_department", _("Another department should take the child")
    MISSING_INFORMATION = "missing_information", _("Information missing")
    OTHER = "other", _("Other")


DAY = 24 * 3600
DEFAULT_POLICIES = {
    Urgency.EMERGENCY: {
        "accept_seconds": 30 * 60,
        "schedule_seconds": 60 * 60,
        "escalate_seconds": 15 * 60,
        "working_days": False,
    },
    Urgency.URGENT: {
        "accept_seconds": 4 * 3600,
        "schedule_seconds": 8 * 3600,
        "escalate_seconds": 2 * 3600,
        "working_days": False,
    },
    Urgency.ELECTIVE: {
        "accept_seconds": 2 * DAY,
        "schedule_seconds": 3 * DAY,
        "escalate_seconds": 1 * DAY,
        "working_days": True,
    },
}


class ReferralPolicy(models.Model):
    """Deadlines per urgency, editable by the alliance admin (defaults in DEFAULT_POLICIES)."""

    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, unique=True)
    accept_seconds = models.PositiveIntegerField(
        _("accept within (seconds from the request)"), validators=[MinValueValidator(1)]
    )
    schedule_seconds = models.PositiveIntegerField(
        _("schedule within (seconds from acceptance)"), validators=[MinValueValidator(1)]
    )
    escalate_seconds = models.PositiveIntegerField(
        _("warn the department head (seconds after the coordinator)"),
        validators=[MinValueValidator(1)],
    )
    working_days = models.BooleanField(
        _("count working days only (Monday to Friday)"), default=False
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["urgency"]
        verbose_name = _("referral deadline policy")
        verbose_name_plural = _("referral deadline policies")

    def __str__(self) -> str:
        return f"{self.get_urgency_display()}: {self.accept_seconds}s / {self.schedule_seconds}s"


class Referral(models.Model):
    patient = models.ForeignKey(
        "consult.Patient",
        on_delete=models.PROTECT,
        related_name="referrals",
        verbose_name=_("child"),
    )
    consultation = models.ForeignKey(
        "consult.Consultation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referrals",
        verbose_name=_("consultation"),
    )
    report = models.ForeignKey(
        "consult.Report",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("signed report"),
    )
    studies = models.ManyToManyField(
        "viewer.Study", blank=True, related_name="referrals", verbose_name=_("studies")
    )
    source_hospital = models.ForeignKey(
        "consult.Hospital",
        on_delete=models.PROTECT,
        related_name="referrals_out",
        verbose_name=_("referring hospital"),
    )
    source_doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referrals_out",
        verbose_name=_("referring doctor"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    receiving_hospital = models.ForeignKey(
        "consult.Hospital",
        on_delete=models.PROTECT,
        related_name="referrals_in",
        verbose_name=_("receiving hospital"),
    )
    receiving_department = models.ForeignKey(
        "consult.Department",
        on_delete=models.PROTECT,
        related_name="referrals_in",
        verbose_name=_("receiving department"),
    )
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices)
    reason = models.TextField(_("clinical reason"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.REQUESTED
    )
    # Schedule (filled by the receiving department).
    scheduled_for = models.DateTimeField(_("date and time"), null=True, blank=True)
    slot = models.CharField(_("bed or clinic slot"), max_length=100, blank=True)
    report_to = models.CharField(_("where to report"), max_length=200, blank=True)
    transport = models.CharField(
        _("transport"), max_length=20, choices=Transport.choices, blank=True
    )
    what_to_bring = models.CharField(_("what to bring"), max_length=300, blank=True)
    outcome_note = models.TextField(_("outcome"), blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("accepted by"),
    )
    requested_at = models.DateTimeField(_("requested"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    scheduled_at = models.DateTimeField(_("scheduled"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # The deadline clock: when the current phase (acceptance or scheduling) started, its
    # round (bumped per phase, so each warning is once per phase), the warnings taken so far
    # (0 none, 1 coordinator warned, 2 head warned), the phase's due time for display, and
    # when the sweep must next look (NULL when nothing is due).
    phase_started_at = models.DateTimeField(null=True, blank=True)
    deadline_round = models.PositiveSmallIntegerField(default=0)
    deadline_stage = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    next_deadline = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["receiving_department", "status"]),
            models.Index(fields=["source_hospital", "status"]),
        ]
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")

    def __str__(self) -> str:
        return f"#{self.pk} {self.patient} · {self.get_status_display()}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ReferralEvent(models.Model):
    """One row per change: the referral's timeline and its audit trail."""

    class Kind(models.TextChoices):
        STATUS = "status", _("Status changed")
        WARN_COORDINATOR = "warn_coordinator", _("Deadline passed: coordinator warned")
        WARN_HEAD = "warn_head", _("Still overdue: department head warned")

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.STATUS)
    from_status = models.CharField(max_length=12, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=Status.choices, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    decline_reason = models.CharField(max_length=20, choices=DeclineReason.choices, blank=True)
    department = models.ForeignKey(
        "consult.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # For deadline warnings: the phase and step. Unique, so a warning is never recorded twice.
    deadline_round = models.PositiveSmallIntegerField(null=True, blank=True)
    deadline_stage = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["referral", "deadline_round", "deadline_stage"],
                condition=models.Q(deadline_stage__isnull=False),
                name="referral_warning_once_per_step",
            )
        ]
        indexes = [models.Index(fields=["to_status", "at"])]
        verbose_name = _("referral event")
        verbose_name_plural = _("referral timeline")

    def __str__(self) -> str:
        return f"{self.referral_id} {self.kind} {self.from_status}→{self.to_status}"
