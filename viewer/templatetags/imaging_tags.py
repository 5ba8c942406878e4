from typing import Any

from django import template

from viewer.selectors import open_conflicts_for

register = template.Library()


@register.simple_tag
def open_conflict_count(user: Any) -> int:
    """Open ingest conflicts the user may resolve (the nav badge)."""
    return open_conflicts_for(user).count()
