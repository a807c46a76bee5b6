"""The board's routes over HTTP: rendering, escaping, buttons, CSRF, login and read-only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from integrations.board.web import CSP
from tests.board.conftest import PASSWORD, BoardWorld
from triagebot.cases.identities import Identity
from triagebot.cases.records import CaseState

HOSTILE = (
    "northwind <script>alert(1)</script> <img src=x onerror=alert(2)> "
    "javascript:alert(3) {{ 7*7 }} see https://example.com/help?a=1&b=2"
)


async def test_board_shows_every_department_with_security_headers(demo: BoardWorld) -> None:
    case = await demo.ingest("northwind my parcel never arrived")
    response = await demo.client.get("/")
    html = await response.text()
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    for dept in demo.runtime.settings.departments.values():
        assert f">{dept.display_name.replace('&', '&amp;')} <" in html
    assert f'id="case-{case.id}"' in html and "my parcel never arrived" in html
    assert "<script>" not in html.replace('<script src="/board/static/board.js" defer>', "")
    assert 'class="clock sla-ok"' in html and "on time" in html


async def test_hostile_post_renders_as_text(demo: BoardWorld) -> None:
    await demo.ingest(HOSTILE)
    html = await demo.page()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<img src=x" not in html and 'href="javascript' not in html
    # Not evaluated as a template (a page-wide "49" check would trip on random CSRF tokens).
    assert "alert(3) {{ 7*7 }} see" in html and "alert(3) 49 see" not in html
    assert (
        '<a href="https://example.com/help?a=1&amp;b=2" rel="noopener noreferrer nofollow ugc"'
        in html
    )


async def test_claim_goes_through_the_core_and_a_lost_race_says_who(demo: BoardWorld) -> None:
    case = await demo.ingest("northwind my parcel never arrived")
    await demo.name("ana")
    status, answer = await demo.act(case.id, "claim")
    assert status == 200 and answer == {
        "ok": True,
        "message": f"Case #{case.id} claimed by Ana Lopez.",  # board:ana in [[people]]
    }
    stored = demo.runtime.store.get_case(case.id)
    assert stored.state is CaseState.CLAIMED and stored.claimed_by == Identity("board", "ana")
    assert demo.runtime.store.events(case.id)[-1].surface == "board"

    demo.clock.now += timedelta(minutes=2)
    await demo.name("ben")
    status, answer = await demo.act(case.id, "claim")
    assert status == 409
    assert answer["message"] == f"case #{case.id} is already claimed by Ana Lopez 2m ago"
    html = await demo.page()
    assert "claimed by Ana Lopez" in html


async def test_every_button_runs_its_command(demo: BoardWorld) -> None:
    case = await demo.ingest("northwind my parcel never arrived")
    await demo.name("ana")
    for action, form, state in (
        ("claim", {}, CaseState.CLAIMED),
        ("unclaim", {}, CaseState.OPEN),
        ("reassign", {"department": "billing"}, CaseState.OPEN),
        ("resolve", {}, CaseState.RESOLVED),
        ("reopen", {}, CaseState.OPEN),
        ("spam", {}, CaseState.SPAM),
        ("reassign", {"department": "sales"}, CaseState.OPEN),  # not spam after all
    ):
        if action == "reassign" and state is CaseState.OPEN and form["department"] == "sales":
            html = await demo.page("/?state=spam")
            assert f'id="reassign-{case.id}"' in html  # a spam card can be sent on
        status, answer = await demo.act(case.id, action, **form)
        assert status == 200, answer
        assert demo.runtime.store.get_case(case.id).state is state
    assert "not spam: sent to sales by" in answer["message"]
    assert demo.runtime.store.get_case(case.id).department == "sales"


async def test_a_button_drawn_from_an_older_version_is_refused(demo: BoardWorld) -> None:
    case = await demo.ingest("northwind my parcel never arrived")
    await demo.name("ana")
    await demo.act(case.id, "claim")
    status, answer = await demo.act(case.id, "resolve", version=str(case.version))
    assert status == 409 and "changed after the board was drawn" in answer["message"]
    assert demo.runtime.store.get_case(case.id).state is CaseState.CLAIMED


async def test_acting_needs_a_name_in_the_demo(demo: BoardWorld) -> None:
    case = await demo.ingest("northwind my parcel never arrived")
    status, answer = await demo.act(case.id, "claim")
    assert status == 409 and "Type your name first" in answer["message"]
    assert demo.runtime.store.get_case(case.id).state is not CaseState.CLAIMED


async def test_posts_without_the_right_csrf_token_or_from_elsewhere_are_refused(
    demo: BoardWorld,
) -> None:
    case = await demo.ingest("northwind my parcel never arrived")
    await demo.name("ana")
    token = await demo.csrf()
    url = f"/board/cases/{case.id}/claim"
    missing = await demo.client.post(url, data={})
    wrong = await demo.client.post(url, data={"csrf": token[:-2] + "xx"})
    foreign = await demo.client.post(
        url, data={"csrf": token}, headers={"Origin": "https://evil.example"}
    )
    name = await demo.client.post("/board/name", data={"name": "mallory"})
    assert [r.status for r in (missing, wrong, foreign, name)] == [403, 403, 403, 403]
    assert "CSRF" in await missing.text()
    assert demo.runtime.store.get_case(case.id).state is not CaseState.CLAIMED


async def test_a_form_post_without_script_comes_back_to_the_board(demo: BoardWorld) -> None:
    case = await demo.ingest("northwind my parcel never arrived")
    await demo.name("ana")
    token = await demo.csrf()
    response = await demo.client.post(
        f"/board/cases/{case.id}/claim",
        data={"csrf": token, "next": "//evil.example/"},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/"
    html = await demo.page()
    assert f"Case #{case.id} claimed by Ana Lopez." in html


async def test_filters_narrow_the_board(demo: BoardWorld) -> None:
    await demo.ingest("northwind my parcel never arrived", source="reddit")
    await demo.ingest("northwind my parcel is late again", source="x")
    html = await demo.page("/?source=reddit&department=shipping")
    assert "never arrived" in html and "late again" not in html
    assert html.count('<section class="column"') == 1 and 'id="col-shipping"' in html
    assert "never arrived" not in await demo.page("/?state=resolved")


async def test_login_is_required_off_demo(served: BoardWorld) -> None:
    await served.ingest("northwind my parcel never arrived")
    for path in ("/", "/report"):
        response = await served.client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].startswith("/login")
    for path in ("/board/columns", "/board/events", "/report/chart.png"):
        assert (await served.client.get(path)).status == 401
    html = await served.page("/login")
    token = html.split('name="csrf" value="')[1].split('"')[0]
    bad = await served.client.post("/login", data={"csrf": token, "user": "ana", "password": "x"})
    assert bad.status == 401 and "Wrong name or password" in await bad.text()
    good = await served.client.post(
        "/login",
        data={"csrf": token, "user": "ana", "password": PASSWORD, "next": "/"},
        allow_redirects=False,
    )
    assert good.status == 303 and good.headers["Location"] == "/"
    html = await served.page()
    assert "Signed in as <strong>ana</strong>" in html and "never arrived" in html


async def test_read_only_board_has_no_buttons_and_refuses_posts(served: BoardWorld) -> None:
    case = await served.ingest("northwind my parcel never arrived")
    token = (await served.page("/login")).split('name="csrf" value="')[1].split('"')[0]
    await served.client.post("/login", data={"csrf": token, "user": "ana", "password": PASSWORD})
    html = await served.page()
    assert "btn-claim" not in html and "read-only" in html
    status, _ = await served.act(case.id, "claim")
    assert status == 403
    assert served.runtime.store.get_case(case.id).state is not CaseState.CLAIMED


async def test_failed_logins_are_limited(served: BoardWorld) -> None:
    token = (await served.page("/login")).split('name="csrf" value="')[1].split('"')[0]
    statuses = []
    for _ in range(6):
        response = await served.client.post(
            "/login", data={"csrf": token, "user": "ana", "password": "guess"}
        )
        statuses.append(response.status)
    assert statuses == [401] * 5 + [429]
    right = await served.client.post(
        "/login", data={"csrf": token, "user": "ana", "password": PASSWORD}
    )
    assert right.status == 429


async def test_report_page_and_chart(demo: BoardWorld) -> None:
    await demo.ingest("northwind my parcel never arrived")
    html = await demo.page("/report?since=30d")
    assert "SLA report" in html and "By department" in html
    assert '<img src="/report/chart.png?since=30d"' in html
    chart = await demo.client.get("/report/chart.png?since=30d")
    assert chart.status == 200 and chart.content_type == "image/png"
    assert (await chart.read()).startswith(b"\x89PNG")


async def test_changes_reach_open_browsers_as_server_sent_events(demo: BoardWorld) -> None:
    case = await demo.ingest("northwind my parcel never arrived")
    await demo.page()  # a session cookie
    stream = await demo.client.get("/board/events")
    assert stream.content_type == "text/event-stream"
    assert await stream.content.readline() == b"retry: 3000\n"
    await stream.content.readline()
    surface = demo.runtime.surfaces[-1]
    ref = await surface.post(case)
    await surface.update(case, ref)
    lines = [await asyncio.wait_for(stream.content.readline(), 5) for _ in range(4)]
    assert lines == [f'data: "{case.id}"\n'.encode(), b"\n"] * 2
    stream.close()


async def test_session_cookie_is_secure_behind_https(demo: BoardWorld) -> None:
    response = await demo.client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in response.headers["Set-Cookie"]


async def test_typing_a_name_keeps_the_filters(demo: BoardWorld) -> None:
    html = await demo.page("/?department=billing")
    assert '<input type="hidden" name="next" value="/?department=billing">' in html


async def test_sla_clocks_turn_nearing_then_breached(demo: BoardWorld) -> None:
    case = await demo.ingest("northwind my parcel never arrived")
    fraction = demo.runtime.settings.sla_policy(case.priority, case.department).reminder_at
    calendar = demo.runtime.settings.calendar_for(case.department)
    span = calendar.elapsed(case.ingested_at, case.claim_due)
    demo.clock.now = calendar.add(case.ingested_at, span * (fraction + 0.01))
    html = await demo.page()
    assert '<li class="clock sla-nearing"' in html and ">nearing<" in html
    demo.clock.now = case.claim_due + timedelta(minutes=3)
    html = await demo.page()
    assert '<li class="clock sla-breached"' in html and ">3m over<" in html
    assert ">breached<" in html
