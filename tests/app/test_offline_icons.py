"""Icons that need no internet: a local favicon, error boxes with icons from the font Streamlit ships."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
MATERIAL = re.compile(r":material/([a-z0-9_]+):")
#: an emoji shortcode of Streamlit's Markdown (``:warning:``), not ``:material/…:`` nor ``:red[text]``
SHORTCODE = re.compile(r"(?<![\w/]):[a-z][a-z0-9_+-]*:(?![\w/\[])")


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


def _emoji(source: str, where: str) -> list[str]:
    """Where a module's source has an emoji character or shortcode in a string, or an icon argument that is not a
    material icon Streamlit knows."""
    from streamlit.emojis import ALL_EMOJIS
    from streamlit.material_icon_names import ALL_MATERIAL_ICONS

    pictographs = {e.rstrip("\ufe0f") for e in ALL_EMOJIS if len(e.rstrip("\ufe0f")) == 1} | {"\ufe0f"}
    found = []
    for node in ast.walk(ast.parse(source, filename=where)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                any(ch in pictographs for ch in node.value) or SHORTCODE.search(node.value)):
            found.append(f"{where}:{node.lineno}: {node.value[:60]!r}")
        if isinstance(node, ast.keyword) and node.arg in ("icon", "page_icon") and isinstance(node.value, ast.Constant):
            material = MATERIAL.fullmatch(str(node.value.value))
            if material is None or material[1] not in ALL_MATERIAL_ICONS:
                found.append(f"{where}:{node.value.lineno}: icon={node.value.value!r}")
    return found


def test_no_emoji_anywhere_in_the_app_the_pages_or_the_components():
    """Emoji need an emoji font (or Streamlit's CDN): icons are ``:material/…:`` from the font Streamlit ships (a
    name it knows, else the icon is blank), and no text carries an emoji character or a shortcode (``:warning:``)."""
    paths = sorted(p for folder in ("app", "pages", "components") for p in (ROOT / folder).rglob("*.py"))
    assert [hit for path in paths for hit in _emoji(path.read_text(), str(path.relative_to(ROOT)))] == []


def test_the_emoji_check_sees_emoji_icons_shortcodes_and_unknown_material_names():
    source = ('st.error("x", icon="🛑")\nst.info("done :white_check_mark:")\nst.info("ok", icon=":material/nope:")\n'
              'st.info(f"{n} passed ✓", icon=":material/block:")\nst.markdown(":red[late] at 12:30:05")\n')
    assert sorted(_emoji(source, "m.py")) == ["m.py:1: '🛑'", "m.py:1: icon='🛑'", "m.py:2: 'done :white_check_mark:'",
                                              "m.py:3: icon=':material/nope:'"]
