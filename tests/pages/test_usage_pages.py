"""The usage dashboards and their CSV through Django's test client: the window, the empty state, the
CSV's rows and escaping, and anonymous usage as its own org."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, time, timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.support.factories import BuildFactory, PullEventFactory, UserFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff() -> Client:
    return logged_in(UserFactory(username="operator", is_staff=True))


def ago(days: int):
    return timezone.now() - timedelta(days=days)


def embedded(page: str) -> dict:
    """The numbers the charts draw, as the page hands them to its script."""
    return json.loads(re.search(r'<script id="usage-data" type="application/json">(.*?)</script>', page).group(1))


def test_an_empty_window_says_so_instead_of_drawing_blank_charts(staff):
    PullEventFactory(created_at=ago(40))
    page = staff.get("/view/usage/seqera.io").content.decode()
    assert "No pulls or builds in this window." in page
    assert "<canvas" not in page and "usage-data" not in page and "chart.umd" not in page
    assert "No pulls in this window." in page  # the top lists are of the window too: the old pull is not there
    older = staff.get("/view/usage/seqera.io?days=90").content.decode()
    assert '<span class="total" data-kind="pulls">1</span>' in older and "No pulls or builds in this window." not in older
    assert "No builds in this window." in older and "No fusion pulls in this window." in older  # empty charts say so
    assert older.count("<canvas") == 1  # the one chart with data is drawn


def test_the_window_chooses_the_days_and_the_top_lists_follow_it(staff):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    PullEventFactory.create_batch(3, image="old:1", user=alice, created_at=ago(20))
    PullEventFactory(image="new:1", user=bob)
    week = staff.get("/view/usage/seqera.io?days=7").content.decode()
    data = embedded(week)
    today = timezone.localdate()
    assert data["dates"] == [(today - timedelta(days=6 - i)).isoformat() for i in range(7)]
    assert data["series"] == {"builds": [0] * 7, "pulls": [0] * 6 + [1], "fusion": [0] * 7}
    assert "<code>new:1</code>" in week and "old:1" not in week
    canvas = re.search(r'<canvas data-kind="pulls".*?</canvas>', week, re.S).group(0)  # what a browser without scripts shows
    assert re.findall(r"<tr><td>(.*?)</td><td class=\"n\">(\d+)</td></tr>", canvas) == [(today.isoformat(), "1")]
    assert ">bob<" in week and ">alice<" not in week
    assert "Top images, last 7 days" in week and '<option value="7" selected>' in week
    month = staff.get("/view/usage/seqera.io?days=30").content.decode()
    assert embedded(month)["series"]["pulls"][-21] == 3 and sum(embedded(month)["series"]["pulls"]) == 4
    assert month.index("<code>old:1</code>") < month.index("<code>new:1</code>")
    assert month.index(">alice<") < month.index(">bob<")
    assert embedded(staff.get("/view/usage/seqera.io").content.decode()) == embedded(month)  # 30 by default


@pytest.mark.parametrize("value", ["5", "abc", "-30", "7.0", "1e9"])
def test_a_bad_window_is_a_400_naming_the_value(staff, value):
    PullEventFactory()
    for path in ("/view/usage/seqera.io", "/view/usage/"):
        response = staff.get(path, {"days": value})
        page = response.content.decode()
        assert response.status_code == 400
        assert f"Invalid window &#x27;{value}&#x27;: choose 7, 30 or 90 days" in page
        assert "<header>" in page and 'role="alert"' in page  # in the site's layout, as the form's error
        assert "<canvas" not in page
    response = staff.get("/view/usage/seqera.io.csv", {"days": value})
    assert response.status_code == 400
    assert response.content.decode() == f"Invalid window '{value}': choose 7, 30 or 90 days\n"


def test_the_csv_has_a_row_per_day_and_kind_with_the_charts_numbers(staff):
    PullEventFactory.create_batch(2, created_at=ago(0))
    PullEventFactory(fusion=True, created_at=ago(0))
    BuildFactory(org="seqera.io", created_at=ago(3))
    BuildFactory(org="seqera.io", from_registry=True, created_at=ago(3))  # a mirror-like copy: not a build
    PullEventFactory(org="gmail.com")  # another org's
    PullEventFactory(created_at=ago(7))  # a day before the window
    day = [(timezone.localdate() - timedelta(days=n)).isoformat() for n in range(7)]
    response = staff.get("/view/usage/seqera.io.csv?days=7")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="usage-seqera.io-{day[6]}-{day[0]}.csv"'
    assert response.content.decode() == (
        "date,org,kind,count\r\n"
        f"{day[6]},seqera.io,builds,0\r\n{day[6]},seqera.io,pulls,0\r\n{day[6]},seqera.io,fusion,0\r\n"
        f"{day[5]},seqera.io,builds,0\r\n{day[5]},seqera.io,pulls,0\r\n{day[5]},seqera.io,fusion,0\r\n"
        f"{day[4]},seqera.io,builds,0\r\n{day[4]},seqera.io,pulls,0\r\n{day[4]},seqera.io,fusion,0\r\n"
        f"{day[3]},seqera.io,builds,1\r\n{day[3]},seqera.io,pulls,0\r\n{day[3]},seqera.io,fusion,0\r\n"
        f"{day[2]},seqera.io,builds,0\r\n{day[2]},seqera.io,pulls,0\r\n{day[2]},seqera.io,fusion,0\r\n"
        f"{day[1]},seqera.io,builds,0\r\n{day[1]},seqera.io,pulls,0\r\n{day[1]},seqera.io,fusion,0\r\n"
        f"{day[0]},seqera.io,builds,0\r\n{day[0]},seqera.io,pulls,3\r\n{day[0]},seqera.io,fusion,1\r\n"
    )
    page = staff.get("/view/usage/seqera.io?days=7").content.decode()
    assert embedded(page)["series"] == {"builds": [0, 0, 0, 1, 0, 0, 0], "pulls": [0] * 6 + [3], "fusion": [0] * 6 + [1]}
    assert 'href="/view/usage/seqera.io.csv?days=7"' in page


@pytest.mark.parametrize("org", ["=1+2", "+sum(1)", "-2+3", "@a1", "\tx", 'a"b\r\nset-cookie: x=1'])  # orgs are lower case
def test_csv_cells_a_spreadsheet_would_run_are_escaped(staff, org):
    PullEventFactory(org=org)
    response = staff.get(f"/view/usage/{quote(org, safe='')}.csv?days=7")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) == 1 + 7 * 3
    assert {row[1] for row in rows[1:]} == {"'" + org if org[0] in "=+-@\t" else org}
    assert rows[-2][2:] == ["pulls", "1"]
    assert re.fullmatch(r'attachment; filename="usage-[A-Za-z0-9._-]+\.csv"', response["Content-Disposition"])
    assert "Set-Cookie" not in response.headers


def test_anonymous_usage_is_its_own_org_for_operators(staff):
    PullEventFactory.create_batch(2, org="")
    BuildFactory(org="")
    PullEventFactory.create_batch(3)
    index = staff.get("/view/usage/?days=7").content.decode()
    assert re.search(r'<a href="/view/usage/%28anonymous%29\?days=7">\(anonymous\)</a></td><td class="n">1</td><td class="n">2</td>', index)
    assert index.index(">seqera.io<") < index.index(">(anonymous)<")  # most pulls first
    page = staff.get("/view/usage/(anonymous)?days=7").content.decode()
    assert embedded(page)["series"]["pulls"][-1] == 2 and embedded(page)["series"]["builds"][-1] == 1
    assert "Anonymous pulls have no user." in page
    rows = staff.get("/view/usage/%28anonymous%29.csv?days=7").content.decode().splitlines()
    assert rows[-2].endswith(",(anonymous),pulls,2")
    manager = logged_in(UserFactory(email="boss@seqera.io", is_org_manager=True))
    assert manager.get("/view/usage/(anonymous)").status_code == 403
    assert manager.get("/view/usage/(anonymous).csv").status_code == 403


def test_an_empty_index_says_so(staff):
    PullEventFactory(created_at=ago(8))
    assert "No pulls or builds in this window." in staff.get("/view/usage/?days=7").content.decode()
    assert ">seqera.io<" in staff.get("/view/usage/?days=30").content.decode()


def test_a_manager_keeps_the_window_on_the_way_to_their_org_and_gets_only_its_csv():
    manager = logged_in(UserFactory(email="boss@seqera.io", is_org_manager=True))
    assert manager.get("/view/usage/?days=7")["Location"] == "/view/usage/seqera.io?days=7"
    assert manager.get("/view/usage/seqera.io.csv").status_code == 200
    assert manager.get("/view/usage/gmail.com.csv").status_code == 403
    assert manager.get("/view/usage/SeqEra.IO").status_code == 200  # org names compare as email domains do
    assert manager.get("/view/usage/SEQERA.IO.csv").content.decode().splitlines()[1].split(",")[1] == "seqera.io"
    assert logged_in(UserFactory(email="pleb@seqera.io")).get("/view/usage/seqera.io.csv").status_code == 403
    assert Client().get("/view/usage/seqera.io.csv")["Location"].startswith("/accounts/login/")


def test_the_window_starts_at_midnight_of_its_first_day(staff):
    first = timezone.make_aware(datetime.combine(timezone.localdate() - timedelta(days=6), time.min))
    PullEventFactory(created_at=first)
    PullEventFactory(created_at=first - timedelta(microseconds=1))
    PullEventFactory(created_at=first + timedelta(days=7) - timedelta(microseconds=1))  # the last instant of today
    rows = staff.get("/view/usage/seqera.io.csv?days=7").content.decode().splitlines()
    assert rows[2] == f"{first.date()},seqera.io,pulls,1" and rows[-2].endswith(",pulls,1")
    assert sum(int(row.rsplit(",", 1)[1]) for row in rows[1:] if ",pulls," in row) == 2


def test_a_dashboard_costs_the_same_queries_however_much_usage_there_is(staff):
    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff.get(path).status_code == 200
        return len(captured)

    empty = (queries("/view/usage/seqera.io?days=90"), queries("/view/usage/?days=90"), queries("/view/usage.csv?days=90"))
    for n in range(30):
        PullEventFactory(org=f"org{n}.example", image=f"i{n}", user=UserFactory(), created_at=ago(n))
        BuildFactory(org=f"org{n}.example", created_at=ago(n))
    assert (queries("/view/usage/org3.example?days=90"), queries("/view/usage/?days=90"), queries("/view/usage.csv?days=90")) == empty


def test_the_index_csv_has_a_row_per_org_with_the_tables_totals(staff):
    PullEventFactory.create_batch(3)
    PullEventFactory(fusion=True)
    BuildFactory(org="seqera.io")
    PullEventFactory(org="gmail.com")
    PullEventFactory(org="gmail.com", created_at=ago(8))  # a day before a week's window
    BuildFactory(org="")  # anonymous
    day = [(timezone.localdate() - timedelta(days=n)).isoformat() for n in range(30)]
    response = staff.get("/view/usage.csv?days=7")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="usage-orgs-{day[6]}-{day[0]}.csv"'
    assert response.content.decode() == "org,builds,pulls,fusion\r\nseqera.io,1,4,1\r\ngmail.com,0,1,0\r\n(anonymous),1,0,0\r\n"
    month = staff.get("/view/usage.csv?days=30")
    assert month["Content-Disposition"] == f'attachment; filename="usage-orgs-{day[29]}-{day[0]}.csv"'
    assert month.content.decode().splitlines()[2] == "gmail.com,0,2,0"
    assert staff.get("/view/usage.csv").content == month.content  # 30 by default
    page = staff.get("/view/usage/?days=7").content.decode()
    assert '<a class="csv" href="/view/usage.csv?days=7" download>Download CSV</a>' in page


def test_the_index_csv_escapes_orgs_a_spreadsheet_would_run_and_refuses_a_bad_window(staff):
    PullEventFactory(org='=hyperlink("http://evil.example","x")')
    PullEventFactory.create_batch(2, org="@sum(a1)")
    rows = list(csv.reader(io.StringIO(staff.get("/view/usage.csv?days=7").content.decode())))
    assert rows == [["org", "builds", "pulls", "fusion"], ["'@sum(a1)", "0", "2", "0"],
                    ["'=hyperlink(\"http://evil.example\",\"x\")", "0", "1", "0"]]
    response = staff.get("/view/usage.csv?days=5")
    assert (response.status_code, response.content) == (400, b"Invalid window '5': choose 7, 30 or 90 days\n")
    assert "Download CSV" not in staff.get("/view/usage/?days=5").content.decode()  # no window, no link


def test_the_index_csv_is_for_operators_and_a_manager_gets_their_orgs():
    manager = logged_in(UserFactory(email="boss@seqera.io", is_org_manager=True))
    assert manager.get("/view/usage.csv?days=7")["Location"] == "/view/usage/seqera.io.csv?days=7"
    assert manager.get("/view/usage.csv", follow=True).content.decode().startswith("date,org,kind,count\r\n")
    assert logged_in(UserFactory(email="pleb@seqera.io")).get("/view/usage.csv").status_code == 403
    assert logged_in(UserFactory(email="", is_org_manager=True)).get("/view/usage.csv").status_code == 403
    assert Client().get("/view/usage.csv")["Location"].startswith("/accounts/login/")
