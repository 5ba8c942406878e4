"""`{% js_catalog %}`: Django's JavaScript translation catalog inline in the page.

As a separate <script src="/jsi18n/"> it was a Django round trip every page waited for
before its scripts ran (the viewer's first image among them); inline it costs nothing
more than its few kilobytes. Built once per language per process (the catalogs change
only with a deploy, which restarts the processes).
"""

from functools import lru_cache

from django import template
from django.http import HttpRequest
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.views.i18n import JavaScriptCatalog

register = template.Library()


@lru_cache(maxsize=16)
def catalog_script(language: str) -> str:
    request = HttpRequest()
    request.method = "GET"
    view = JavaScriptCatalog()
    view.setup(request)
    source = view.get(request).content.decode()
    # Nothing in the catalog may end the <script> element or open an HTML comment.
    return source.replace("</", "<\\/").replace("<!--", "<\\!--")


@register.simple_tag(takes_context=True)
def js_catalog(context: template.Context) -> str:
    # The page's Content-Security-Policy nonce lets this one inline script run.
    nonce = conditional_escape(context.get("CSP_NONCE", ""))
    source = catalog_script(get_language())
    return mark_safe(f'<script nonce="{nonce}">{source}</script>')  # noqa: S308
