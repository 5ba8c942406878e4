"""factory_boy factories: every test builds the data it needs, nothing from fixture files."""

import datetime as dt

import factory
from django.utils import timezone

from consult.models import (
    Department,
    Guardian,
    Hospital,
    OnCallShift,
    Patient,
    PatientIdentifier,
    Role,
    Sex,
    SpecialistSubspecialty,
    Subspecialty,
    Tier,
    User,
    WeightRecord,
)

PASSWORD = "Pedslink-test-pass-1"


class HospitalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Hospital

    code = factory.Sequence(lambda n: f"H{n:04d}")
    name_zh = factory.Sequence(lambda n: f"测试县人民医院{n}")
    name_en = factory.Sequence(lambda n: f"Test County People's Hospital {n}")
    tier = Tier.COUNTY
    province = "浙江省"
    city = "温州市"
    county = "永嘉县"
    phone = "0577-88880000"


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    hospital = factory.SubFactory(HospitalFactory)
    name_zh = factory.Sequence(lambda n: f"小儿外科{n}")
    name_en = factory.Sequence(lambda n: f"Pediatric Surgery {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"王医生{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    role = Role.REFERRING_DOCTOR
    hospital = factory.SubFactory(HospitalFactory)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def subspecialties(self, create, extracted, **kwargs):  # noqa: ANN001
        if create and extracted:
            for code in extracted:
                SpecialistSubspecialty.objects.create(specialist=self, subspecialty=code)
        if create:
            self.save()


class OnCallShiftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OnCallShift

    specialist = factory.SubFactory(UserFactory, role=Role.SPECIALIST)
    subspecialty = Subspecialty.GENERAL
    start = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    end = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(hours=12))


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"李小明{n}")
    sex = Sex.MALE
    birth_date = dt.date(2024, 3, 15)
    home_hospital = factory.SubFactory(HospitalFactory)

    @factory.post_generation
    def mrn(self, create, extracted, **kwargs):  # noqa: ANN001
        if create:
            PatientIdentifier.objects.create(
                patient=self, hospital=self.home_hospital, mrn=extracted or f"MRN{self.pk:06d}"
            )


class GuardianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Guardian

    patient = factory.SubFactory(PatientFactory)
    name = "李妈妈"
    relation = Guardian.Relation.MOTHER
    mobile = factory.Sequence(lambda n: f"138{n:08d}")


class WeightFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WeightRecord

    patient = factory.SubFactory(PatientFactory)
    weight_kg = "12.50"
    measured_on = dt.date(2026, 11, 1)


# --- imaging (viewer/) ----------------------------------------------------------------


class DicomNodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "viewer.DicomNode"

    hospital = factory.SubFactory(HospitalFactory)
    ae_title = factory.Sequence(lambda n: f"PACS{n:04d}")
    allowed_ips = "127.0.0.1"
    description = "Test PACS"


# --- Imaging (viewer branch): rows for Study/Series/Instance, bytes written by store_dataset.


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "viewer.Study"

    study_instance_uid = factory.Sequence(lambda n: f"1.2.826.0.1.3680043.10.999.1.{n}")
    patient = factory.SubFactory(PatientFactory)
    hospital = factory.LazyAttribute(lambda s: s.patient.home_hospital)
    study_date = dt.date(2026, 11, 20)
    description = "CT ABDOMEN"
    modalities = "CT"


class SeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "viewer.Series"

    study = factory.SubFactory(StudyFactory)
    series_instance_uid = factory.Sequence(lambda n: f"1.2.826.0.1.3680043.10.999.2.{n}")
    modality = "CT"
    series_number = factory.Sequence(lambda n: n + 1)
    description = "AXIAL"


class InstanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "viewer.Instance"

    series = factory.SubFactory(SeriesFactory)
    sop_instance_uid = factory.Sequence(lambda n: f"1.2.826.0.1.3680043.10.999.3.{n}")
    sop_class_uid = "1.2.840.10008.5.1.4.1.1.2"
    instance_number = factory.Sequence(lambda n: n + 1)
    transfer_syntax_uid = "1.2.840.10008.1.2.1"
    size = 0
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    storage_key = factory.Sequence(lambda n: f"test-dicom/{n:08d}.dcm")
    source = "web"
    sending_hospital = factory.LazyAttribute(lambda i: i.series.study.hospital)


def store_dataset(ds, series, **fields):  # noqa: ANN001, ANN201
    """Write a pydicom Dataset into default storage and index it as an Instance of `series`."""
    import hashlib
    import io

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    instance = InstanceFactory.build(series=series, **fields)
    instance.sop_instance_uid = str(ds.SOPInstanceUID)
    instance.sop_class_uid = str(ds.SOPClassUID)
    instance.transfer_syntax_uid = str(ds.file_meta.TransferSyntaxUID)
    instance.instance_number = fields.get("instance_number", ds.get("InstanceNumber"))
    instance.rows, instance.columns = ds.get("Rows"), ds.get("Columns")
    instance.number_of_frames = int(ds.get("NumberOfFrames", 1) or 1)
    instance.size, instance.sha256 = len(data), hashlib.sha256(data).hexdigest()
    instance.storage_key = default_storage.save(instance.storage_key, ContentFile(data))
    instance.save()
    return instance


# --- consultations (issue 5) --------------------------------------------------------------

from consult.models import Consultation, Priority, Status  # noqa: E402


class ConsultationFactory(factory.django.DjangoModelFactory):
    """A draft consultation with a question, a history and one study of the child."""

    class Meta:
        model = Consultation
        skip_postgeneration_save = True

    patient = factory.SubFactory(PatientFactory)
    hospital = factory.LazyAttribute(lambda c: c.patient.home_hospital)
    requested_by = factory.SubFactory(UserFactory, hospital=factory.SelfAttribute("..hospital"))
    subspecialty = Subspecialty.ABDOMINAL
    priority = Priority.ROUTINE
    clinical_history = "反复阵发性哭闹3天，果酱样大便1次。"
    question = "是否为肠套叠？有无病理性诱发点？"
    status = Status.DRAFT
    submitted_at = factory.LazyAttribute(
        lambda c: None if c.status == Status.DRAFT else timezone.now()
    )

    @factory.post_generation
    def with_study(self, create, extracted, **kwargs):  # noqa: ANN001
        if create and extracted is not False:
            self.studies.add(
                StudyFactory(
                    patient=self.patient,
                    hospital=self.hospital,
                    description="腹部超声",
                    modalities="US",
                    number_of_instances=12,
                )
            )


def on_call(specialist, subspecialty, hours: int = 12):  # noqa: ANN001, ANN201
    """Put a specialist on call for a subspecialty from an hour ago for `hours`."""
    return OnCallShiftFactory(
        specialist=specialist,
        subspecialty=subspecialty,
        start=timezone.now() - dt.timedelta(hours=1),
        end=timezone.now() + dt.timedelta(hours=hours),
    )


# --- green-channel referrals (issue 6) ------------------------------------------------------

from referrals.models import Referral, Urgency  # noqa: E402


class ReferralFactory(factory.django.DjangoModelFactory):
    """A requested referral of a county child to a surgery department that accepts referrals
    (written directly; tests of the workflow go through referrals.services)."""

    class Meta:
        model = Referral

    patient = factory.SubFactory(PatientFactory)
    source_hospital = factory.LazyAttribute(lambda r: r.patient.home_hospital)
    source_doctor = factory.SubFactory(
        UserFactory, hospital=factory.SelfAttribute("..source_hospital")
    )
    requested_by = factory.SelfAttribute("source_doctor")
    receiving_department = factory.SubFactory(DepartmentFactory, accepts_referrals=True)
    receiving_hospital = factory.SelfAttribute("receiving_department.hospital")
    urgency = Urgency.URGENT
    reason = "肠套叠反复发作，疑病理性诱发点，需手术评估。"
    requested_at = factory.LazyFunction(timezone.now)
    phase_started_at = factory.SelfAttribute("requested_at")
    deadline_round = 1


# --- parent portal (issue 7) ----------------------------------------------------------------

from consult.models import Report  # noqa: E402


class SignedReportFactory(factory.django.DjangoModelFactory):
    """A signed report version on a reported consultation."""

    class Meta:
        model = Report

    consultation = factory.SubFactory(ConsultationFactory, status=Status.REPORTED)
    version = 1
    template = "general"
    status = Report.Status.SIGNED
    findings = "右下腹见“同心圆”征，直径约2.5 cm。"
    impression = "回结肠型肠套叠。"
    recommendation = "建议尽快到儿童医院行空气灌肠复位。"
    author = factory.SubFactory(UserFactory, role=Role.SPECIALIST)
    signed_at = factory.LazyFunction(timezone.now)
