import datetime as dt

import pytest
from django.utils import translation

from consult.ages import age_parts, pediatric_age


@pytest.mark.parametrize(
    ("birth", "at", "expected"),
    [
        (dt.date(2026, 11, 1), dt.date(2026, 11, 1), "0 days"),
        (dt.date(2026, 11, 1), dt.date(2026, 11, 25), "24 days"),
        (dt.date(2026, 10, 1), dt.date(2026, 11, 25), "1 month 24 days"),
        (dt.date(2026, 9, 10), dt.date(2026, 11, 25), "2 months 15 days"),
        (dt.date(2026, 8, 25), dt.date(2026, 11, 25), "3 months"),
        (dt.date(2024, 12, 1), dt.date(2026, 11, 25), "23 months"),
        (dt.date(2024, 11, 25), dt.date(2026, 11, 25), "2 years"),
        (dt.date(2020, 3, 15), dt.date(2026, 11, 25), "6 years 8 months"),
    ],
)
def test_age_is_written_the_pediatric_way(birth, at, expected):
    with translation.override("en"):
        assert pediatric_age(birth, at) == expected


def test_age_in_chinese_uses_chinese_units():
    with translation.override("zh-hans"):
        assert pediatric_age(dt.date(2020, 3, 15), dt.date(2026, 11, 25)) == "6岁8个月"
        assert pediatric_age(dt.date(2026, 11, 1), dt.date(2026, 11, 25)) == "24天"


def test_born_on_the_31st_counts_months_by_month_end():
    assert age_parts(dt.date(2026, 1, 31), dt.date(2026, 2, 28)) == (0, 0, 28)
    assert age_parts(dt.date(2026, 1, 31), dt.date(2026, 3, 31)) == (0, 2, 0)


def test_a_date_before_birth_is_refused():
    with pytest.raises(ValueError):
        age_parts(dt.date(2026, 1, 1), dt.date(2025, 12, 31))
