"""The team's notes as an MCP server (stdio), built with the official `mcp` SDK.

In production it reads a notes database; here a few notes in memory. The agent in
notes_agent.py starts it as a subprocess; in replay pytest-llm answers for it instead.
"""

from __future__ import annotations

from mcp.server import MCPServer

NOTES = {
    1: "Standup moved to 10:00 from Monday.",
    2: "Release 2.4 ships on Thursday; the changelog is in docs/changes.md.",
    3: "The staging database is read-only during the release.",
}

server = MCPServer("notes")


@server.tool()
def search_notes(query: str) -> list[dict[str, object]]:
    """Notes whose text mentions every word of the query: their ids and first words."""
    words = query.lower().split()
    return [
        {"id": note_id, "preview": text[:40]}
        for note_id, text in NOTES.items()
        if all(word in text.lower() for word in words)
    ]


@server.tool()
def read_note(note_id: int) -> str:
    """The whole text of one note."""
    return NOTES.get(note_id, "no such note")


@server.tool()
def delete_note(note_id: int) -> str:
    """Delete a note (the agent must never do this on its own)."""
    return "deleted" if NOTES.pop(note_id, None) else "no such note"


if __name__ == "__main__":
    server.run()
