"""The chat turn streams, and what the user sees is what the model said."""

from __future__ import annotations

from chat_stream import stream_reply


def test_reply_streams_in_pieces(llm, anthropic_client):
    history = [{"role": "user", "content": "Can you recommend a short novel for a train ride?"}]

    pieces = list(stream_reply(anthropic_client, history))

    assert len(pieces) > 3  # delivered chunk by chunk, as live
    call = llm.calls[0]
    assert "".join(pieces) == call.text
    assert call.events[0]["event"] == "message_start"
    assert call.response["stop_reason"] in ("end_turn", "max_tokens")
    assert call.usage.output_tokens > 0
