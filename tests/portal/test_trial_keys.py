"""No key written in the repository signs anything: each install makes its own (README, "A
trial on one machine")."""

import stat

from consult.models import Report
from tests.portal.conftest import signed_portal_cookie

# The development SECRET_KEY that pedslink/settings.py carried until it was removed: anyone
# could read it, so anything it signed must now be refused.
OLD_REPOSITORY_KEY = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"


def test_a_portal_cookie_signed_with_the_old_repository_key_opens_no_report(
    client, share_link, settings
):
    share, _token = share_link
    configured = settings.SECRET_KEY
    settings.SECRET_KEY = OLD_REPOSITORY_KEY
    forged = signed_portal_cookie({"s": share.pk, "st": "ok", "k": "forged"})
    settings.SECRET_KEY = configured
    client.cookies["pl_portal"] = forged
    response = client.get("/p/report/")
    assert response.status_code == 403
    assert share.report.impression not in response.content.decode()


def test_the_same_cookie_signed_with_this_installs_key_opens_the_report(client, share_link):
    share, _token = share_link
    client.cookies["pl_portal"] = signed_portal_cookie({"s": share.pk, "st": "ok", "k": "x"})
    response = client.get("/p/report/")
    assert response.status_code == 200
    assert share.report.status == Report.Status.SIGNED


def test_a_generated_key_file_is_private_and_read_back_the_same(tmp_path):
    from pedslink.keys import install_secret

    path = tmp_path / "secrets" / "secret_key"
    first = install_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert install_secret(path) == first
    assert len(first) >= 50 and first != OLD_REPOSITORY_KEY
    assert install_secret(tmp_path / "secrets" / "other_key") != first
