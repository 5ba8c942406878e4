"""With DEBUG off (as `make run` serves) a wrong address or a failure gets a plain Chinese
page, never Django's debug pages with the URL patterns or a traceback."""

import pytest
from django.test import Client


def test_an_unknown_address_gets_the_chinese_404_page_without_url_patterns(db, settings):
    settings.DEBUG = False
    response = Client().get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "页面不存在" in body
    assert "django-admin" not in body and "URLconf" not in body and "urlpatterns" not in body


def test_the_404_page_is_in_english_for_english_readers(db, settings):
    settings.DEBUG = False
    response = Client(headers={"accept-language": "en"}).get("/no-such-page/")
    assert "Page not found" in response.content.decode()


@pytest.mark.urls("tests.consult.raising_urls")
def test_a_failing_view_gets_the_chinese_500_page_without_a_traceback(db, settings):
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get("/fails/")
    body = response.content.decode()
    assert response.status_code == 500
    assert "服务器出错" in body
    assert "Traceback" not in body and "secret-detail-in-the-traceback" not in body
    assert "<style" not in body and "style=" not in body  # the policy allows no inline style
