"""A person's path through the pages of both services, in a real (headless) Chromium.

Every test gets a fresh browser profile; the services (real gunicorn, real trained model) are
shared by the session. Nothing leaves the machine: requests to hosts other than 127.0.0.1 are
aborted, so the NIH source links are checked by their address, never fetched.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD
from tests.e2e.helpers import (
    BLOCKING_IMPACTS,
    NIH_SOURCE,
    ask,
    axe_violations,
    describe,
    log_in,
    new_email,
    no_horizontal_scroll,
    register,
    tab_to,
)

pytestmark = pytest.mark.slow

ANSWERABLE = "What are the treatments for glaucoma?"
EMERGENCY = "my dad has crushing chest pain and is sweating"
UNANSWERABLE = "What are the side effects of atorvastatin?"


def test_home_page_lists_both_services_and_its_links_work(services, page, shot):
    page.goto(f"{services.inference}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("MedTriage")
    expect(page.get_by_role("heading", name="Inference service")).to_be_visible()
    expect(page.get_by_role("heading", name="User service")).to_be_visible()
    shot(page, "home")

    # Every link on the page answers, on whichever of the two services it points to: pages
    # and open endpoints with 200, API endpoints that need a token with a JSON 401.
    hrefs = sorted(set(page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")))
    ports = {re.match(r"http://127\.0\.0\.1:(\d+)/", h).group(1) for h in hrefs}
    assert {services.inference.rsplit(":", 1)[1], services.users.rsplit(":", 1)[1]} <= ports
    for href in hrefs:
        resp = page.request.get(href.split("#")[0])
        if "/api/" in href and resp.status == 401:
            assert resp.json()["error"]["code"], href
        else:
            assert resp.status == 200, f"{href} answered {resp.status}"

    # Follow links as a person would: to the question page, and across to the user service.
    page.get_by_role("main").get_by_role("link", name="Ask a question").click()
    expect(page).to_have_url(f"{services.inference}/inference")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ask a health question")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Register").click()
    expect(page).to_have_url(f"{services.users}/register")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    page.get_by_role("link", name="MedTriage").first.click()
    expect(page).to_have_url(f"{services.inference}/")


def test_register_log_in_ask_history_delete_log_out(services, page, shot):
    email = new_email("journey")
    page.goto(f"{services.users}/register")
    shot(page, "register")
    register(page, services.users, email, PASSWORD)
    expect(page.get_by_role("status")).to_contain_text("Your account is ready")
    expect(page.get_by_label("Email")).to_have_value(email)
    shot(page, "login")
    log_in(page, services.users, email, PASSWORD)

    # An answerable question: category, confidence, answers citing their NIH pages.
    ask(page, ANSWERABLE, top_k=3)
    result = page.locator("section.result")
    expect(result.get_by_text("Category:")).to_contain_text(re.compile(r"confidence \d+%"))
    expect(result.locator(".urgent")).to_have_count(0)
    answers = result.locator("ol.answers > li")
    expect(answers).to_have_count(3)
    sources = result.get_by_role("link", name="source (NIH)")
    expect(sources).to_have_count(3)
    for href in sources.evaluate_all("els => els.map(e => e.getAttribute('href'))"):
        assert NIH_SOURCE.match(href), href
    expect(result.get_by_text("Saved to your")).to_be_visible()
    expect(result.locator(".disclaimer")).to_contain_text("not medical advice")
    shot(page, "inference-answers")

    # An emergency: the urgent banner comes first and says to get help now.
    ask(page, EMERGENCY)
    banner = page.locator("section.result .urgent[role=alert]")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(re.compile("emergency", re.I))
    shot(page, "inference-urgent", full_page=False)

    # A medicine question the knowledge base cannot answer: the page says so.
    ask(page, UNANSWERABLE)
    abstained = page.locator("section.result .abstained")
    expect(abstained).to_be_visible()
    expect(abstained).to_contain_text("could not find an answer we are confident about")
    shot(page, "inference-abstained")

    # History lists the three questions, newest first, then is deleted.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    expect(page).to_have_url(f"{services.inference}/history")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text(UNANSWERABLE)
    expect(rows.nth(1)).to_contain_text("urgent")
    expect(rows.nth(2)).to_contain_text(ANSWERABLE)
    shot(page, "history")
    page.get_by_role("button", name="Delete all my history").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted 3 entries")
    expect(page.locator("table")).to_have_count(0)
    expect(page.get_by_text("No questions yet")).to_be_visible()

    # Log out from the account page; the history is then closed to this browser.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    expect(page).to_have_url(f"{services.users}/account")
    expect(page.locator(".account-details")).to_contain_text(email)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are logged out")
    shot(page, "logged-out")
    page.goto(f"{services.inference}/history")
    expect(page.get_by_role("main")).to_contain_text("Log in to see the questions you asked")


def test_form_errors_are_readable(services, page, shot):
    page.goto(f"{services.inference}/inference")
    ask(page, "ab")
    question = page.get_by_label("Your question")
    expect(question).to_have_attribute("aria-invalid", "true")
    error = page.locator("#question-errors")
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_have_text("The question must be 3 to 2000 characters long.")
    expect(question).to_have_attribute("aria-describedby", "question-errors")
    expect(question).to_have_value("ab")
    expect(page.locator("section.result")).to_have_count(0)
    shot(page, "form-error", full_page=False)

    # The user service's forms explain their errors next to the field too.
    page.goto(f"{services.users}/register")
    page.get_by_label("Email").fill(new_email("mismatch"))
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD + "!")
    page.get_by_role("button", name="Create account").click()
    confirm = page.get_by_label("Repeat password")
    expect(confirm).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#confirm-error")).to_have_text("The passwords do not match.")


def _visible_focus(info: dict) -> None:
    assert info["outline"] not in ("none", "") and info["outlineWidth"] >= 2, info


def test_keyboard_only(services, page, shot):
    """Register, log in, ask, see the history and delete it with Tab, typing and Enter only."""
    email = new_email("keyboard")
    page.goto(f"{services.users}/register")
    # The first Tab reaches the skip link, and Enter moves on to the content.
    info = tab_to(page, lambda f: True, limit=1)
    assert info["text"] == "Skip to content"
    _visible_focus(info)
    assert page.locator("a.skip").bounding_box()["x"] >= 0  # shown while focused
    page.keyboard.press("Enter")
    info = tab_to(page, lambda f: f["id"] == "email", limit=5)  # straight into the form
    _visible_focus(info)
    page.keyboard.type(email)
    tab_to(page, lambda f: f["id"] == "password", limit=2)
    page.keyboard.type(PASSWORD)
    tab_to(page, lambda f: f["id"] == "confirm", limit=2)
    page.keyboard.type(PASSWORD)
    info = tab_to(page, lambda f: f["tag"] == "button", limit=2)
    assert info["text"] == "Create account"
    _visible_focus(info)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/login"))

    # The login page fills in the email; Enter in the password field sends the form.
    tab_to(page, lambda f: f["id"] == "password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{services.inference}/inference")

    info = tab_to(page, lambda f: f["id"] == "question")
    _visible_focus(info)
    shot(page, "keyboard-focus", full_page=False)
    page.keyboard.type(ANSWERABLE)
    info = tab_to(page, lambda f: f["tag"] in ("button", "input") and f["text"] == "Ask")
    _visible_focus(info)
    page.keyboard.press("Enter")
    page.wait_for_load_state("domcontentloaded")
    expect(page.locator("section.result")).to_contain_text("Category:")

    info = tab_to(page, lambda f: f["text"] == "History" and f["tag"] == "a")
    _visible_focus(info)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{services.inference}/history")
    expect(page.locator("table tbody tr")).to_have_count(1)
    tab_to(page, lambda f: f["text"] == "Delete all my history")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Deleted 1 entries")


PHONE = {"width": 390, "height": 844}
WIDER_THAN_VIEWPORT = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))"""


def test_phone_width_has_no_horizontal_scroll(services, make_context, shot):
    page = make_context(viewport=PHONE, device_scale_factor=2, is_mobile=True).new_page()
    email = new_email("phone")
    register(page, services.users, email, PASSWORD)
    log_in(page, services.users, email, PASSWORD)
    ask(page, ANSWERABLE, top_k=2)
    expect(page.locator("ol.answers > li")).to_have_count(2)
    ask(page, EMERGENCY)
    visits = {
        "home": f"{services.inference}/",
        "inference": None,  # the page with the urgent result, as it is
        "history": f"{services.inference}/history",
        "account": f"{services.users}/account",
        "register": f"{services.users}/register",
        "login": f"{services.users}/login",
    }
    too_wide = {}
    for name, url in visits.items():
        if url:
            page.goto(url)
        scroll_width, client_width = no_horizontal_scroll(page)
        if scroll_width > PHONE["width"]:
            too_wide[name] = (scroll_width, page.evaluate(WIDER_THAN_VIEWPORT))
        if name in ("home", "inference", "history"):
            shot(page, f"phone-{name}", full_page=False)
    assert not too_wide, f"wider than {PHONE['width']} px: {too_wide}"


def test_pages_have_no_serious_accessibility_violations(services, make_context):
    """axe-core on every page and state a person sees; serious or critical findings fail."""
    # The pages' CSP refuses injected scripts: this context bypasses it for axe alone.
    page = make_context(bypass_csp=True).new_page()
    found: dict[str, list[dict]] = {}

    def check(name: str) -> None:
        found[name] = axe_violations(page)

    page.goto(f"{services.inference}/")
    check("home")
    page.goto(f"{services.users}/register")
    check("register")
    page.get_by_role("button", name="Create account").click()
    check("register with errors")
    email = new_email("axe")
    register(page, services.users, email, PASSWORD)
    check("login")
    page.get_by_label("Password", exact=True).fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    check("login failed")
    log_in(page, services.users, email, PASSWORD)
    check("inference")
    ask(page, "ab")
    check("inference form error")
    ask(page, ANSWERABLE)
    check("inference answers")
    ask(page, EMERGENCY)
    check("inference urgent")
    ask(page, UNANSWERABLE)
    check("inference abstained")
    page.goto(f"{services.inference}/history")
    check("history")
    page.get_by_role("button", name="Delete all my history").click()
    check("history deleted")
    page.goto(f"{services.users}/account")
    check("account")
    page.get_by_role("button", name="Log out").click()
    check("logged out")
    page.goto(f"{services.inference}/no-such-page")
    check("not found")

    blocking = {
        name: [v for v in vs if v["impact"] in BLOCKING_IMPACTS] for name, vs in found.items()
    }
    report = "\n".join(f"{name}:\n{describe(vs)}" for name, vs in blocking.items() if vs)
    assert not report, f"axe-core found serious or critical violations:\n{report}"
    others = {name: describe(vs) for name, vs in found.items() if vs}
    print("axe-core, minor or moderate findings:", others or "none")
