"""Received messages for the client's calls: waiting for the next one, and settling them."""

from __future__ import annotations

from stomp_asyncio._handlers import Handlers
from stomp_asyncio._link import Link
from stomp_core import ClientCore
from stomp_core._model import positive
from stomp_session import MessageReceived


async def wait_message(
    core: ClientCore, link: Link, timeout: float | None
) -> MessageReceived | None:
    """Wait up to *timeout* seconds (``None``: no limit) for a message, and take it.

    For :meth:`~stomp_asyncio.Client.receive` when none waits: deferred ACKs leave first;
    ``None`` when none came in time.
    """
    wait = positive("timeout", timeout, optional=True)
    core.check_usable()
    link.bind()
    inbox = link.inbox
    deadline = None if wait is None else link.now() + wait
    core.flush(link.now())  # deferred ACKs leave before the client waits
    link.process()
    await link.wait(lambda: core.messages_waiting > 0 or bool(inbox), deadline, check=True)
    message = inbox.popleft() if inbox else core.next_message()
    if message is not None and link.read_paused:
        link.taken()
    return message


async def receive_from(
    core: ClientCore,
    link: Link,
    handlers: Handlers,
    subscription: str,
    timeout: float | None,
) -> MessageReceived | None:
    """Take the next message of *subscription* (an id), waiting up to *timeout* seconds.

    From now on every message is taken from the core as it arrives (into the link's
    inbox), so that each caller finds its subscription's; ``None`` when none came in time.
    """
    wait = positive("timeout", timeout, optional=True)
    link.bind()
    handlers.route_all()
    inbox = link.inbox

    def first() -> int | None:
        for index, message in enumerate(inbox):
            record = message.subscription
            if record is not None and record.id == subscription:
                return index
        return None

    index = first()
    if index is None:
        core.check_usable()
        deadline = None if wait is None else link.now() + wait
        core.flush(link.now())
        link.process()
        await link.wait(lambda: first() is not None, deadline, check=True)
        index = first()
        if index is None:
            return None
    message = inbox[index]
    del inbox[index]
    if link.read_paused:
        link.taken()
    return message


async def settle(
    core: ClientCore,
    link: Link,
    handlers: Handlers,
    message: MessageReceived,
    *,
    transaction: str | None,
    receipt: bool | str,
    timeout: float | None,
    nack: bool,
) -> None:
    """ACK (or with *nack*, NACK) *message* for :meth:`~stomp_asyncio.Client.ack`.

    Without a receipt it waits only when the outbound buffer is full; with one, as any
    request (the connection, room, then the receipt, within *timeout*).
    """
    handlers.manual(message)
    act = core.nack if nack else core.ack
    if receipt is False:  # the hot path: no waiting unless the buffer is full
        act(
            message,
            transaction=transaction,
            defer=core.messages_waiting > 0,
            now=link.now(),
        )
        if core.output_size:
            # The core let ACKs go (a full batch, or none waits behind): write them
            # now, not when the loop next turns, which a consumer taking a full inbox
            # puts off until the inbox is empty and the broker's window used up.
            link.write()
        link.schedule()
        if not core.has_room:
            await link.wait_room(core.settings.write_timeout)
        return
    core.refuse_stale(message, "NACK" if nack else "ACK")
    await link.request(
        lambda now, left: act(
            message, transaction=transaction, receipt=receipt, timeout=left, now=now
        ),
        timeout,
    )


__all__ = ["receive_from", "settle", "wait_message"]
