"""Finding items by the name a caller used; refusals that carry structured details for the model."""

from __future__ import annotations

from typing import Any

from voxgate.tools.names import fold, match_names
from voxgate.tools.registry import ToolContext, ToolError, ToolRegistry

SERVICES = ["Tuns", "Tuns bărbați", "Vopsit", "Coafat", "Manichiură", "Tratament păr", "Tratament față"]


def names(query: str) -> list[str]:
    return list(match_names(query, SERVICES, lambda s: s))


def test_fold_drops_case_and_both_spellings_of_diacritics() -> None:
    assert fold("Tuns Bărbați") == fold("tuns barbati") == fold("TUNS BĂRBAŢI") == "tuns barbati"
    assert fold("  Fetească-Neagră! ") == "feteasca neagra"


def test_an_exact_name_wins_over_longer_ones() -> None:
    assert names("tuns") == ["Tuns"]
    assert names("Tuns barbati") == ["Tuns bărbați"]
    assert names("manichiura") == ["Manichiură"]


def test_word_prefixes_find_a_name_or_several() -> None:
    assert names("barbati") == ["Tuns bărbați"]
    assert names("vopsitul") == ["Vopsit"]  # the caller's word starts with the name's
    assert names("tratament") == ["Tratament păr", "Tratament față"]
    assert names("tratament fata") == ["Tratament față"]


def test_nothing_for_unknown_or_too_short_words() -> None:
    assert names("masaj") == []
    assert names("t") == []
    assert names("") == []
    assert names("   ") == []


async def test_a_tool_error_carries_its_details_to_the_model() -> None:
    registry = ToolRegistry()

    @registry.tool(filler={})
    async def book(ctx: ToolContext, when: str) -> dict[str, Any]:
        """Book a time.

        Args:
            when: The time.
        """
        raise ToolError("That time is taken.", "taken", alternatives=["10:45", "11:00"], day=None)

    result = await registry.call("book", {"when": "10:00"}, ToolContext(session_id="s", agent="a"))
    assert not result.ok and result.error_code == "taken"
    assert result.output == {
        "error": {
            "code": "taken",
            "message": "That time is taken.",
            "alternatives": ["10:45", "11:00"],
            "day": None,
        }
    }
