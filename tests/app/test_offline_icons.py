"""Icons that need no internet: a local favicon, error boxes with icons from the font Streamlit ships."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_the_favicon_is_a_local_image_not_a_cdn_icon():
    main = (ROOT / "app" / "main.py").read_text()
    assert 'page_icon=":material' not in main and "page_icon=str(Path(__file__).with_name(\"icon.png\"))" in main
    assert (ROOT / "app" / "icon.png").read_bytes().startswith(b"\x89PNG")


def test_a_domain_error_box_carries_a_material_icon(runtime):
    script = ("from components.context import shows_errors\nfrom services.core.errors import BadInput\n"
              "with shows_errors():\n    raise BadInput('no such thing')\n")
    at = AppTest.from_string(script, default_timeout=30)
    at.run()
    assert at.error[0].value == "no such thing" and at.error[0].icon == ":material/error:"
