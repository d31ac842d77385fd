"""Rating answers in the browser: rate on the result page, change and withdraw on the history
page, all without JavaScript, by labelled controls in a named group (fieldset and legend), one
step by keyboard alone; axe-core finds nothing serious on the pages with the forms."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD
from tests.e2e.helpers import (
    BLOCKING_IMPACTS,
    ask,
    axe_violations,
    describe,
    log_in,
    new_email,
    register,
    tab_to,
)

pytestmark = pytest.mark.slow

ANSWERABLE = "What are the treatments for glaucoma?"


def test_rate_change_and_withdraw_a_rating(services, make_context, shot):
    # axe's script needs the CSP bypassed; the forms themselves use no script at all.
    context = make_context(bypass_csp=True, java_script_enabled=True)
    page = context.new_page()
    found: dict[str, list[dict]] = {}
    email = new_email("feedback")
    register(page, services.users, email, PASSWORD)
    log_in(page, services.users, email, PASSWORD)

    ask(page, ANSWERABLE, top_k=2)
    answers = page.locator("section.result ol.answers > li")
    expect(answers).to_have_count(2)
    first_id = answers.nth(0).locator("p.meta code").inner_text()
    group = answers.nth(0).get_by_role("group", name=re.compile(r"^Did answer 1 .* help\?$"))
    expect(group).to_be_visible()
    found["result with rating forms"] = axe_violations(page)
    shot(page, "inference-rating")

    # Rate: helpful, from the result page; the history shows it.
    group.get_by_role("radio", name="Helpful", exact=True).check()
    group.get_by_role("button", name="Send rating").click()
    page.wait_for_url(re.compile(r"/history#entry-\d+$"))
    expect(page.get_by_role("status")).to_contain_text(f"answer {first_id} rated helpful")
    row = page.locator("table tbody tr").nth(0)
    expect(row).to_contain_text(ANSWERABLE)
    rating = row.locator(".rating").nth(0)
    expect(rating.locator(".rated")).to_have_text("Your rating: helpful")
    expect(rating.get_by_role("radio", name="Helpful", exact=True)).to_be_checked()
    found["history with a rating"] = axe_violations(page)
    shot(page, "history-rated")

    # Change it: not helpful, too technical.
    group = rating.get_by_role("group", name=re.compile(r"^Did answer 1 "))
    group.get_by_role("radio", name="Not helpful").check()
    group.get_by_label("Reason (optional)").select_option(label="Too technical")
    group.get_by_role("button", name="Change rating").click()
    expect(page.get_by_role("status")).to_contain_text("rated not helpful")
    rating = page.locator("table tbody tr").nth(0).locator(".rating").nth(0)
    expect(rating.locator(".rated")).to_have_text("Your rating: not helpful (too technical)")
    expect(rating.get_by_label("Reason (optional)")).to_have_value("too_technical")

    # Withdraw it with the keyboard alone: Tab to the button, Enter.
    info = tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Withdraw rating", 60)
    assert info["outline"] not in ("none", "") and info["outlineWidth"] >= 2, info
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(f"rating of answer {first_id} is withdrawn")
    row = page.locator("table tbody tr").nth(0)
    expect(row.locator(".rated")).to_have_count(0)
    expect(row.get_by_role("button", name="Withdraw rating")).to_have_count(0)
    expect(row.get_by_role("button", name="Send rating")).to_have_count(2)
    found["history after withdrawing"] = axe_violations(page)

    blocking = {
        name: [v for v in vs if v["impact"] in BLOCKING_IMPACTS] for name, vs in found.items()
    }
    report = "\n".join(f"{name}:\n{describe(vs)}" for name, vs in blocking.items() if vs)
    assert not report, f"axe-core found serious or critical violations:\n{report}"


def test_rating_works_without_javascript(services, make_context):
    page = make_context(java_script_enabled=False).new_page()
    email = new_email("nojs")
    register(page, services.users, email, PASSWORD)
    log_in(page, services.users, email, PASSWORD)
    ask(page, ANSWERABLE, top_k=1)
    group = page.locator("section.result ol.answers > li").nth(0).get_by_role("group")
    group.get_by_role("radio", name="Not helpful").check()
    group.get_by_label("Reason (optional)").select_option(label="Wrong topic")
    group.get_by_role("button", name="Send rating").click()
    page.wait_for_url(re.compile(r"/history#entry-\d+$"))
    expect(page.locator("table tbody tr .rated")).to_have_text(
        "Your rating: not helpful (wrong topic)"
    )
