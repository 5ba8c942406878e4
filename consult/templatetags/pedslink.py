import datetime as dt

from django import template

from consult.ages import pediatric_age

register = template.Library()


@register.filter
def age_at(birth: dt.date | None, at: dt.date | dt.datetime | None) -> str:
    """`{{ child.birth_date|age_at:study.study_date }}`: the pediatric age at a date."""
    if birth is None or at is None:
        return ""
    if isinstance(at, dt.datetime):
        at = at.date()
    return pediatric_age(birth, at)
