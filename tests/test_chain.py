"""The interception chain: stage order, filters, and the pass / modify / drop / answer outcomes."""

from __future__ import annotations

from voxgate.chain import InterceptionChain, Message, Reply


async def test_stages_run_in_order_whatever_the_registration_order() -> None:
    chain = InterceptionChain()
    seen: list[str] = []

    def recorder(label: str):  # type: ignore[no-untyped-def]
        async def hook(message: Message) -> Message:
            seen.append(label)
            return message

        hook.__name__ = label
        return hook

    chain.register(recorder("tools"), stage="tools")
    chain.register(recorder("business-1"))
    chain.register(recorder("validate"), stage="validate")
    chain.register(recorder("record"), stage="record")
    chain.register(recorder("business-2"))
    await chain.run(Message("client", {"type": "x"}, session=None))
    assert seen == ["validate", "record", "business-1", "business-2", "tools"]
    assert chain.names() == [
        "validate:validate",
        "record:record",
        "business:business-1",
        "business:business-2",
        "tools:tools",
    ]


async def test_direction_and_type_filters() -> None:
    chain = InterceptionChain()
    hits: list[str] = []

    @chain.hook(direction="upstream", types=["response.done"])
    async def only_done(message: Message) -> Message:
        hits.append(message.type)
        return message

    await chain.run(Message("client", {"type": "response.done"}, session=None))
    await chain.run(Message("upstream", {"type": "response.created"}, session=None))
    await chain.run(Message("upstream", {"type": "response.done"}, session=None))
    assert hits == ["response.done"]


async def test_modify_drop_and_reply() -> None:
    chain = InterceptionChain()

    @chain.hook()
    async def censor(message: Message) -> Message | Reply | None:
        text = message.data.get("text", "")
        if text == "drop":
            return None
        if text == "answer":
            return Reply([{"type": "answered"}])
        return message.replace({**message.data, "text": text.upper()})

    later: list[str] = []

    @chain.hook(stage="tools")
    async def after(message: Message) -> Message:
        later.append(message.data["text"])
        return message

    passed = await chain.run(Message("client", {"type": "t", "text": "hi"}, session=None, raw='{"type":"t"}'))
    assert isinstance(passed, Message) and passed.data["text"] == "HI" and passed.raw is None
    assert await chain.run(Message("client", {"type": "t", "text": "drop"}, session=None)) is None
    reply = await chain.run(Message("client", {"type": "t", "text": "answer"}, session=None))
    assert isinstance(reply, Reply) and reply.events == [{"type": "answered"}]
    assert later == ["HI"]  # a dropped or answered message goes no further


async def test_plain_functions_and_async_callables_are_hooks_too() -> None:
    chain = InterceptionChain()
    seen: list[str] = []

    def plain(message: Message) -> Message | Reply | None:
        seen.append("plain")
        if message.data.get("text") == "drop":
            return None
        if message.data.get("text") == "answer":
            return Reply([{"type": "answered"}])
        return message

    class AsyncCallable:
        __name__ = "async_callable"

        async def __call__(self, message: Message) -> Message | None:
            seen.append("callable")
            return None if message.data.get("text") == "drop late" else message

    chain.register(plain)
    chain.register(AsyncCallable())
    passed = await chain.run(Message("client", {"type": "x", "text": "hi"}, session=None))
    assert isinstance(passed, Message) and seen == ["plain", "callable"]
    seen.clear()
    assert await chain.run(Message("client", {"type": "x", "text": "drop"}, session=None)) is None
    assert seen == ["plain"]
    answered = await chain.run(Message("client", {"type": "x", "text": "answer"}, session=None))
    assert isinstance(answered, Reply) and answered.events == [{"type": "answered"}]
    assert await chain.run(Message("client", {"type": "x", "text": "drop late"}, session=None)) is None
    assert chain.names() == ["business:plain", "business:async_callable"]
