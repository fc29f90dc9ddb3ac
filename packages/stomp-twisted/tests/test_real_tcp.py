"""The simulated broker on a real TCP port, with a real reactor (a private one, not the global)."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.selectreactor import SelectReactor

from stomp_session import MessageReceived
from stomp_twisted import Client, ReactorLike
from stomp_twisted.testing import SimulatedBroker


def test_a_client_and_the_broker_talk_over_a_real_port() -> None:
    reactor = SelectReactor()
    real: ReactorLike = reactor
    broker = SimulatedBroker()
    port = broker.listen(0, interface="127.0.0.1", reactor=real)
    assert port > 0
    client = Client(f"tcp://127.0.0.1:{port}", reactor=real, heart_beat=(100, 100))
    outcome: list[object] = []

    async def scenario() -> bytes:
        await client.connect()
        got: Deferred[bytes] = Deferred()

        def handler(message: MessageReceived) -> None:
            got.callback(message.body)

        await client.subscribe("/queue/a", handler, receipt=True)
        await client.send("/queue/a", b"over tcp", receipt=True)
        body = await got
        result = await client.disconnect()
        assert result.clean
        await broker.stop_listening()
        return body

    done = Deferred.fromCoroutine(scenario())
    done.addBoth(outcome.append)
    done.addBoth(lambda _: reactor.stop())
    bound = reactor.callLater(20, reactor.stop)  # a bound on a broken run, not a wait
    reactor.run(installSignalHandlers=False)
    if bound.active():
        bound.cancel()
    assert outcome == [b"over tcp"]
