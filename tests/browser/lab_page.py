"""Opening, running and closing a notebook in JupyterLab from playwright: the steps the browser tests share."""

import time

from playwright.sync_api import TimeoutError as PlaywrightTimeout

RUN_ALL_TIMEOUT_MS = 240_000
START_TIMEOUT_MS = 30_000
CLEAN_TIMEOUT_S = 10  # JupyterLab marks a tab dirty for a moment while the kernel starts, then clears it
DIRTY_TAB = ".lm-TabBar-tab.jp-mod-dirty"

_PROMPTS = "[...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim())"
_STARTED = f"() => {_PROMPTS}.some(text => /^\\[(\\*|\\d+)\\]:$/.test(text))"
_FINISHED = (f"() => !{_PROMPTS}.includes('[*]:') && "
             "document.querySelector(\".jp-Notebook-ExecutionIndicator[data-status='idle']\") !== null")


def wait_kernel_idle(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout_ms)


def open_in_lab(page, base: str, token: str, path: str, workspace: str) -> None:
    """Open ``path`` (relative to the served root) in a fresh JupyterLab workspace; wait until its kernel is idle."""
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{path}?reset&token={token}")
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    wait_kernel_idle(page)


def run_all_cells(page, timeout_ms: int = RUN_ALL_TIMEOUT_MS) -> None:
    """Run ▸ Run All Cells, then wait (bounded) until no cell is queued or running and the kernel is idle.

    Progress is read from the cells' prompts ([*]: queued or running, [12]: done), not from the kernel indicator's
    busy state, which a loaded machine can show too late to be seen. A Run All after which no cell has started
    within 30 s is chosen once more: on a loaded machine the menu click can land before the notebook takes it.
    """
    for attempt in range(2):
        page.locator(".jp-Notebook").first.click()
        page.keyboard.press("Escape")
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function(_STARTED, timeout=START_TIMEOUT_MS)
            break
        except PlaywrightTimeout:
            if attempt:
                raise AssertionError(f"Run All Cells started no cell within {2 * START_TIMEOUT_MS // 1000} s") from None
            page.keyboard.press("Escape")  # close the menu if it is still open
    page.wait_for_function(_FINISHED, timeout=timeout_ms, polling=250)


def stays_dirty(page) -> bool:
    """True when a tab still has JupyterLab's dirty mark CLEAN_TIMEOUT_S after the kernel went idle (without
    language_info stored, JupyterLab's copy of the kernel's info keeps it dirty)."""
    deadline = time.monotonic() + CLEAN_TIMEOUT_S
    while page.locator(DIRTY_TAB).count():
        if time.monotonic() > deadline:
            return True
        time.sleep(0.25)
    time.sleep(1)  # and it stays clean
    return page.locator(DIRTY_TAB).count() > 0


def closes_without_a_question(page) -> bool:
    """Click the current tab's close icon: True once its notebook is gone with no dialog shown (bounded, 10 s)."""
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon").click()
    try:
        page.wait_for_selector(".jp-Notebook", state="detached", timeout=10_000)
    except PlaywrightTimeout:
        return False  # a question ("Save your work?") keeps the notebook open
    return page.locator(".jp-Dialog").count() == 0
