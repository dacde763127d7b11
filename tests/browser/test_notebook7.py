"""The dashboard in Jupyter Notebook 7 (``jupyter notebook``), driven in Chromium.

Same fake microphone (a real EmoDB sentence) and helpers as the Voilà and JupyterLab tests.
"""

from __future__ import annotations

import pytest
from test_dashboard import TIMEOUT_MS, assert_result, record, run_dashboard_cell

pytestmark = pytest.mark.browser


def test_dashboard_in_notebook7(notebook7_url, new_page, model_labels, screenshot):
    page = new_page(notebook7_url)
    cell = ".jp-Notebook .jp-Cell .cm-content"
    page.wait_for_selector(cell, timeout=TIMEOUT_MS)
    # Notebook 7 shows the kernel state only as a toolbar icon, not as text.
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=TIMEOUT_MS)
    # Run the cell (Shift+Enter); a dropped first run was seen once in three here.
    run_dashboard_cell(page, cell, "Shift+Enter", screenshot, "notebook7")
    page.wait_for_selector(".ser-panel[data-state='idle']", timeout=TIMEOUT_MS)
    assert record(page) > 0  # the live timeline had segments while recording
    assert_result(page, model_labels)
    screenshot(page, "notebook7-result")
