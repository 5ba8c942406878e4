"""The demo alliance: generated, never real people. Used by `manage.py seed_demo`."""

from __future__ import annotations

import datetime as dt
import random
from base64 import b32encode
from binascii import unhexlify
from dataclasses import dataclass
from urllib.parse import quote

from django.db import transaction
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

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
from consult.services import national_id_hash

DEMO_PASSWORD = "PedsLink-demo-2026"  # noqa: S105 - demo accounts only; seeding needs --demo

EXPERT = (
    "ZJCH",
    "浙江省儿童医院",
    "Zhejiang Provincial Children's Hospital",
    Tier.EXPERT_CENTER,
    "浙江省",
    "杭州市",
    "上城区",
    "0571-86670000",
)
HOSPITALS = [
    (
        "WZ-YJ",
        "永嘉县人民医院",
        "Yongjia County People's Hospital",
        Tier.COUNTY,
        "浙江省",
        "温州市",
        "永嘉县",
        "0577-67220000",
    ),
    (
        "WZ-YJ-QT",
        "永嘉县桥头镇卫生院",
        "Qiaotou Township Health Center",
        Tier.TOWNSHIP,
        "浙江省",
        "温州市",
        "永嘉县",
        "0577-67300000",
    ),
    (
        "WZ-WC",
        "文成县人民医院",
        "Wencheng County People's Hospital",
        Tier.COUNTY,
        "浙江省",
        "温州市",
        "文成县",
        "0577-67860000",
    ),
    (
        "WZ-CITY",
        "温州市中心医院",
        "Wenzhou Central Hospital",
        Tier.MUNICIPAL,
        "浙江省",
        "温州市",
        "鹿城区",
        "0577-88070000",
    ),
    (
        "LS-CITY",
        "丽水市人民医院",
        "Lishui People's Hospital",
        Tier.MUNICIPAL,
        "浙江省",
        "丽水市",
        "莲都区",
        "0578-21330000",
    ),
    (
        "LS-JN",
        "景宁畲族自治县人民医院",
        "Jingning County People's Hospital",
        Tier.COUNTY,
        "浙江省",
        "丽水市",
        "景宁县",
        "0578-50820000",
    ),
    (
        "LS-JN-DJ",
        "景宁县东坑镇卫生院",
        "Dongkeng Township Health Center",
        Tier.TOWNSHIP,
        "浙江省",
        "丽水市",
        "景宁县",
        "0578-50900000",
    ),
    (
        "QZ-KH",
        "开化县人民医院",
        "Kaihua County People's Hospital",
        Tier.COUNTY,
        "浙江省",
        "衢州市",
        "开化县",
        "0570-60120000",
    ),
    (
        "QZ-KH-HK",
        "开化县华埠镇卫生院",
        "Huabu Township Health Center",
        Tier.TOWNSHIP,
        "浙江省",
        "衢州市",
        "开化县",
        "0570-60330000",
    ),
    (
        "QZ-CITY",
        "衢州市人民医院",
        "Quzhou People's Hospital",
        Tier.MUNICIPAL,
        "浙江省",
        "衢州市",
        "柯城区",
        "0570-30050000",
    ),
    (
        "TZ-SM",
        "三门县人民医院",
        "Sanmen County People's Hospital",
        Tier.COUNTY,
        "浙江省",
        "台州市",
        "三门县",
        "0576-83310000",
    ),
    (
        "TZ-SM-HY",
        "三门县海游街道社区卫生服务中心",
        "Haiyou Community Health Center",
        Tier.TOWNSHIP,
        "浙江省",
        "台州市",
        "三门县",
        "0576-83320000",
    ),
    (
        "JH-PA",
        "磐安县人民医院",
        "Pan'an County People's Hospital",
        Tier.COUNTY,
        "浙江省",
        "金华市",
        "磐安县",
        "0579-84660000",
    ),
]
EXPERT_DEPARTMENTS = [
    ("小儿外科", "Pediatric Surgery", True),
    ("心脏外科", "Cardiac Surgery", True),
    ("小儿骨科", "Pediatric Orthopedics", True),
    ("血液肿瘤科", "Hematology and Oncology", True),
    ("神经外科", "Neurosurgery", True),
    ("新生儿科", "Neonatology", True),
    ("放射科", "Radiology", False),
    ("超声科", "Ultrasound", False),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    role: str
    hospital_code: str | None
    subspecialties: tuple[str, ...] = ()


S = Subspecialty
DEMO_USERS = [
    DemoUser("town_doc", "陈立新", Role.REFERRING_DOCTOR, "WZ-YJ-QT"),
    DemoUser("county_doc", "张海燕", Role.REFERRING_DOCTOR, "WZ-YJ"),
    DemoUser("city_doc", "黄志强", Role.REFERRING_DOCTOR, "LS-CITY"),
    DemoUser("spec_liu", "刘建华", Role.SPECIALIST, "ZJCH", (S.CARDIAC, S.CHEST, S.GENERAL)),
    DemoUser("spec_wang", "王晓梅", Role.SPECIALIST, "ZJCH", (S.NEURO, S.ONCOLOGY, S.NUCLEAR)),
    DemoUser(
        "spec_zhao",
        "赵明远",
        Role.SPECIALIST,
        "ZJCH",
        (S.ABDOMINAL, S.MSK, S.ULTRASOUND, S.GENERAL),
    ),
    DemoUser("coord_zhou", "周丽", Role.COORDINATOR, "ZJCH"),
    DemoUser("coord_wu", "吴俊", Role.COORDINATOR, "ZJCH"),
    DemoUser("admin_sun", "孙卫东", Role.ADMIN, "ZJCH"),
    DemoUser("admin_qian", "钱芳", Role.ADMIN, None),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑"
GIVEN = [
    "子涵",
    "梓萱",
    "一诺",
    "浩然",
    "宇轩",
    "欣怡",
    "思远",
    "雨桐",
    "俊杰",
    "诗琪",
    "明轩",
    "可馨",
    "天佑",
    "语嫣",
    "博文",
    "若曦",
    "嘉懿",
    "沐辰",
    "安琪",
    "睿泽",
]
GUARDIAN_GIVEN = ["秀英", "建国", "丽娟", "伟", "芳", "军", "海霞", "志刚", "春梅", "国强"]
REFERRING_HOSPITALS = ["WZ-YJ", "WZ-YJ-QT", "LS-CITY", "WZ-WC", "QZ-KH", "LS-JN-DJ"]


def _hospital(row: tuple) -> Hospital:
    code, name_zh, name_en, tier, province, city, county, phone = row
    hospital, _ = Hospital.objects.update_or_create(
        code=code,
        defaults={
            "name_zh": name_zh,
            "name_en": name_en,
            "tier": tier,
            "province": province,
            "city": city,
            "county": county,
            "phone": phone,
        },
    )
    return hospital


def _user(spec: DemoUser, hospitals: dict[str, Hospital]) -> User:
    user, created = User.objects.get_or_create(
        username=spec.username,
        defaults={
            "full_name": spec.full_name,
            "role": spec.role,
            "hospital": hospitals.get(spec.hospital_code or ""),
            "email": f"{spec.username}@demo.pedslink.invalid",
            "is_staff": spec.role == Role.ADMIN,
            "is_superuser": spec.role == Role.ADMIN,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    for code in spec.subspecialties:
        SpecialistSubspecialty.objects.get_or_create(specialist=user, subspecialty=code)
    return user


def _roster(specialists: list[User]) -> None:
    """Day (08-20) and night (20-08) shifts for every subspecialty, for the coming week."""
    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    for offset in range(7):
        day = today + dt.timedelta(days=offset)
        for index, code in enumerate(Subspecialty.values):
            covering = [
                s for s in specialists if code in {x.subspecialty for x in s.subspecialties.all()}
            ]
            for shift_no, (start_h, hours) in enumerate(((8, 12), (20, 12))):
                who = covering[(offset + index + shift_no) % len(covering)]
                start = dt.datetime.combine(day, dt.time(start_h), tzinfo=tz)
                OnCallShift.objects.get_or_create(
                    subspecialty=code,
                    start=start,
                    defaults={"specialist": who, "end": start + dt.timedelta(hours=hours)},
                )


def _children(hospitals: dict[str, Hospital], creators: dict[str, User]) -> None:
    rng = random.Random(20261125)  # deterministic: the same twenty children every time
    today = timezone.localdate()
    for n in range(20):
        code = REFERRING_HOSPITALS[n % len(REFERRING_HOSPITALS)]
        hospital = hospitals[code]
        mrn = f"{code}-{100200 + n}"
        if PatientIdentifier.objects.filter(hospital=hospital, mrn=mrn).exists():
            continue
        surname = SURNAMES[n % len(SURNAMES)]
        age_days = rng.choice(
            [3, 20, 45, 80, 150, 300, 500, 700, 900, 1500, 2400, 3300, 4500, 5100]
        )
        birth = today - dt.timedelta(days=age_days + n)
        patient = Patient.objects.create(
            name=surname + GIVEN[n],
            sex=Sex.MALE if n % 2 else Sex.FEMALE,
            birth_date=birth,
            home_hospital=hospital,
            national_id_hash=national_id_hash(f"DEMO{n:014d}") if n % 3 == 0 else "",
            created_by=creators.get(code),
        )
        PatientIdentifier.objects.create(patient=patient, hospital=hospital, mrn=mrn)
        weight = 3.2 + age_days / 365 * 2.4 + rng.uniform(-0.5, 0.5)
        WeightRecord.objects.create(patient=patient, weight_kg=round(weight, 1), measured_on=today)
        Guardian.objects.create(
            patient=patient,
            name=surname + GUARDIAN_GIVEN[n % len(GUARDIAN_GIVEN)],
            relation=Guardian.Relation.FATHER if n % 2 else Guardian.Relation.MOTHER,
            mobile=f"1380000{n:04d}",
        )
        if n % 4 == 0:
            Guardian.objects.create(
                patient=patient,
                name="林" + GUARDIAN_GIVEN[(n + 3) % len(GUARDIAN_GIVEN)],
                relation=Guardian.Relation.GRANDPARENT,
                mobile=f"1390000{n:04d}",
            )


@transaction.atomic
def seed_demo_alliance() -> list[User]:
    """Create (or complete) the demo alliance; running it again changes nothing."""
    expert = _hospital(EXPERT)
    hospitals = {expert.code: expert} | {row[0]: _hospital(row) for row in HOSPITALS}
    for name_zh, name_en, accepts in EXPERT_DEPARTMENTS:
        Department.objects.get_or_create(
            hospital=expert,
            name_zh=name_zh,
            defaults={
                "name_en": name_en,
                "accepts_referrals": accepts,
                "phone": "0571-8667" + "1000",
            },
        )
    for code in ("WZ-CITY", "LS-CITY", "QZ-CITY"):
        Department.objects.get_or_create(
            hospital=hospitals[code],
            name_zh="儿科",
            defaults={"name_en": "Pediatrics", "accepts_referrals": True},
        )
    users = [_user(spec, hospitals) for spec in DEMO_USERS]
    specialists = [u for u in users if u.role == Role.SPECIALIST]
    _roster(specialists)
    creators = {u.hospital.code: u for u in users if u.role == Role.REFERRING_DOCTOR}
    _children(hospitals, creators)
    return users


DEMO_DEVICE = "demo"


@transaction.atomic
def seed_demo_totp(users: list[User]) -> str:
    """Give each demo account an authenticator device, all with one secret that is made at
    random the first time (so it is this install's own, never in the repository) and kept in
    the database: running again keeps it. Returns the secret in base32 for the app."""
    existing = TOTPDevice.objects.filter(user__in=users, name=DEMO_DEVICE).first()
    key = existing.key if existing else default_key()
    for user in users:
        if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            TOTPDevice.objects.create(user=user, name=DEMO_DEVICE, key=key, confirmed=True)
    return b32encode(unhexlify(key)).decode()


def demo_totp_uri(secret: str) -> str:
    """The otpauth URI an authenticator app adds (one entry serves every demo account)."""
    return f"otpauth://totp/{quote('PedsLink:demo')}?secret={secret}&issuer=PedsLink"


def demo_totp_code(username: str) -> str:
    """The current authenticator code of a demo account (for `manage.py demo_totp`)."""
    if username not in {spec.username for spec in DEMO_USERS}:
        raise ValueError(username)
    device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
    if device is None:
        raise LookupError(username)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"
