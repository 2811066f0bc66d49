"""How the tests read a response."""


def body(response) -> bytes:
    """A response's body, whether it came whole or streamed (a large percentile answer)."""
    return b"".join(response.streaming_content) if response.streaming else response.content
