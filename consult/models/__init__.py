from consult.models.audit import AppendOnlyError, AuditEvent
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

__all__ = [
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
