"""Pediatric age: how a children's hospital writes a child's age. Pure, no ORM."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def _months_between(birth: dt.date, at: dt.date) -> tuple[int, int]:
    """Whole months from birth to `at`, and the days left over."""
    months = (at.year - birth.year) * 12 + (at.month - birth.month)
    if at.day < birth.day:
        months -= 1
    anchor_year, anchor_month = divmod(birth.month - 1 + months, 12)
    anchor_month += 1
    anchor_year += birth.year
    # Born on the 31st: the monthly anniversary falls on the last day of shorter months.
    day = min(birth.day, _days_in_month(anchor_year, anchor_month))
    days = (at - dt.date(anchor_year, anchor_month, day)).days
    return months, days


def _days_in_month(year: int, month: int) -> int:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def age_parts(birth: dt.date, at: dt.date) -> tuple[int, int, int]:
    """(years, months, days) of age at `at`; raises ValueError if `at` is before birth."""
    if at < birth:
        raise ValueError("date is before birth")
    months, days = _months_between(birth, at)
    return months // 12, months % 12, days


def pediatric_age(birth: dt.date, at: dt.date) -> str:
    """Days under 1 month; months (and days under 3 months) under 2 years; then years+months."""
    if at < birth:
        return _("not yet born")
    total_months, days = _months_between(birth, at)
    if total_months < 1:
        n = (at - birth).days
        return ngettext("%(n)d day", "%(n)d days", n) % {"n": n}
    if total_months < 3:
        return _("%(months)s %(days)s") % {
            "months": ngettext("%(n)d month", "%(n)d months", total_months) % {"n": total_months},
            "days": ngettext("%(n)d day", "%(n)d days", days) % {"n": days},
        }
    if total_months < 24:
        return ngettext("%(n)d month", "%(n)d months", total_months) % {"n": total_months}
    years, months = divmod(total_months, 12)
    year_text = ngettext("%(n)d year", "%(n)d years", years) % {"n": years}
    if months == 0:
        return year_text
    return _("%(years)s %(months)s") % {
        "years": year_text,
        "months": ngettext("%(n)d month", "%(n)d months", months) % {"n": months},
    }
