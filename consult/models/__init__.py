from consult.models.audit import AppendOnlyError, AuditEvent
from consult.models.consultations import (
    OPEN_STATUSES,
    TRANSITIONS,
    Attachment,
    Consultation,
    ConsultationAssignment,
    ConsultationEvent,
    Message,
    MessageReceipt,
    Priority,
    Status,
)
from consult.models.directory import (
    Department,
    Hospital,
    OnCallShift,
    Role,
    SpecialistSubspecialty,
    Subspecialty,
    Tier,
    User,
    localized,
)
from consult.models.notifications import Notification
from consult.models.patients import (
    MAX_WEIGHT_KG,
    MIN_WEIGHT_KG,
    Guardian,
    Patient,
    PatientIdentifier,
    Sex,
    WeightRecord,
    mobile_validator,
)
from consult.models.portal import PortalShare
from consult.models.reports import Report, TransferUrgency
from consult.models.security import SecurityPolicy, SmsDevice
from consult.models.sla import DEFAULT_POLICIES, SlaPolicy

__all__ = [
    "OPEN_STATUSES",
    "TRANSITIONS",
    "Attachment",
    "Consultation",
    "ConsultationAssignment",
    "ConsultationEvent",
    "DEFAULT_POLICIES",
    "Message",
    "MessageReceipt",
    "Notification",
    "PortalShare",
    "Priority",
    "Report",
    "SecurityPolicy",
    "SlaPolicy",
    "SmsDevice",
    "Status",
    "TransferUrgency",
    "AppendOnlyError",
    "AuditEvent",
    "Department",
    "Guardian",
    "Hospital",
    "MAX_WEIGHT_KG",
    "MIN_WEIGHT_KG",
    "OnCallShift",
    "Patient",
    "PatientIdentifier",
    "Role",
    "Sex",
    "SpecialistSubspecialty",
    "Subspecialty",
    "Tier",
    "User",
    "WeightRecord",
    "localized",
    "mobile_validator",
]
