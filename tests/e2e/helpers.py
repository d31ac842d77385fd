"""What the browser tests do often: an account, the accessibility check, keyboard moves."""

from __future__ import annotations

import itertools
import re
from functools import cache

_emails = itertools.count(1)
# MedQuAD's sources: NIH sites (NIHSeniorHealth has its own domain), cancer.gov and CDC.
NIH_SOURCE = re.compile(
    r"^https?://([a-z0-9-]+\.)*(nih\.gov|nihseniorhealth\.gov|cancer\.gov|medlineplus\.gov|cdc\.gov)/"
)
# axe impacts that fail a test; "moderate" and "minor" are reported, not failed.
BLOCKING_IMPACTS = {"serious", "critical"}


def new_email(tag: str) -> str:
    return f"{tag}-{next(_emails)}@example.org"


def register(page, users_url: str, email: str, password: str) -> None:
    """Create an account through the registration page."""
    page.goto(f"{users_url}/register")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat password").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/login"))


def log_in(page, users_url: str, email: str, password: str) -> None:
    """Log in through the login page; it sends the browser on to the inference page."""
    page.goto(f"{users_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/inference$"))


def ask(page, question: str, top_k: int | None = None) -> None:
    """Ask on the inference page the browser is on."""
    page.get_by_label("Your question").fill(question)
    if top_k is not None:
        page.get_by_label("Number of answers").fill(str(top_k))
    page.get_by_role("button", name="Ask").click()
    page.wait_for_load_state("domcontentloaded")


@cache
def axe_script() -> str:
    """axe-core's axe.min.js as bundled (pinned) by the axe-playwright-python package."""
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


def axe_violations(page) -> list[dict]:
    """Run axe-core on the page (WCAG 2.x A/AA and best practices); its violations.

    The pages' CSP (`script-src 'self'`) refuses injected script tags, so the caller's
    context is made with bypass_csp=True for this pass.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_script())
    result = page.evaluate(
        """() => axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                            'wcag22aa', 'best-practice']},
            resultTypes: ['violations'],
        })"""
    )
    return result["violations"]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} -> {targets}")
    return "\n".join(lines)


def focused(page) -> dict:
    """What has the keyboard focus: tag, id, name, text, and its outline."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute('name'),
                    text: (el.innerText || el.value || '').trim().slice(0, 80),
                    href: el.getAttribute('href'),
                    outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth)};
        }"""
    )


def tab_to(page, predicate, limit: int = 40) -> dict:
    """Press Tab until the focused element satisfies predicate(focused); return it."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        info = focused(page)
        if predicate(info):
            return info
    raise AssertionError(f"Tab never reached the element (last focus: {focused(page)})")


def no_horizontal_scroll(page) -> tuple[int, int]:
    """(scrollWidth, viewport width) of the document."""
    return page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
