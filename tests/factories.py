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
