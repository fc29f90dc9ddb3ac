"""stomp-frame against real brokers: what we write they accept, what they send we read.

A raw socket and the frame layer only, so these tests pin the wire format itself, for every
protocol version, on ActiveMQ and RabbitMQ.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from stomp_frame import HEARTBEAT, Frame, Parser, Version, serialize
from tests.integration._brokers import BrokerInfo, QueueNamer

TIMEOUT = 10.0


class WireConnection:
    """A socket speaking frames: just enough to drive a broker from a test."""

    def __init__(self, broker: BrokerInfo, version: Version) -> None:
        self.sock = socket.create_connection(broker.address, timeout=TIMEOUT)
        self.version = version
        self.parser = Parser()
        headers = {
            "accept-version": version.value,
            "host": broker.vhost,
            "login": broker.login,
            "passcode": broker.passcode,
            "heart-beat": "0,0",
        }
        self.write(Frame("CONNECT", headers))
        self.connected = self.expect("CONNECTED")
        self.parser.version = Version(self.connected.get("version", "1.0"))

    def write(self, frame: Frame) -> None:
        self.sock.sendall(serialize(frame, self.version))

    def frames(self) -> Iterator[Frame]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            while (event := self.parser.next_event()) is not None:
                if event is not HEARTBEAT:
                    assert isinstance(event, Frame)
                    yield event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail("timed out waiting for a frame from the broker")
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                pytest.fail("the broker closed the connection")
            self.parser.receive_data(data)

    def expect(self, command: str) -> Frame:
        frame = next(self.frames())
        assert frame.command == command, frame
        return frame

    def close(self) -> None:
        try:
            self.write(Frame("DISCONNECT", {"receipt": "bye"}))
            self.expect("RECEIPT")
        finally:
            self.sock.close()


@pytest.fixture
def wire(broker: BrokerInfo, version: Version) -> Iterator[WireConnection]:
    connection = WireConnection(broker, version)
    yield connection
    connection.close()


def _round_trip(wire: WireConnection, destination: str, frame: Frame) -> Frame:
    subscribe = {"destination": destination, "ack": "auto", "receipt": "sub"}
    if wire.version is not Version.V1_0:
        subscribe["id"] = "s1"
    wire.write(Frame("SUBSCRIBE", subscribe))
    assert wire.expect("RECEIPT").get("receipt-id") == "sub"
    wire.write(frame)
    for received in wire.frames():
        if received.command == "MESSAGE":
            return received
        assert received.command == "RECEIPT", received
    raise AssertionError("unreachable")


def test_connected_names_the_negotiated_version(wire: WireConnection, version: Version) -> None:
    assert wire.connected.get("version", "1.0") == version.value
    assert wire.parser.version is version


def test_a_binary_body_with_nul_bytes_survives_with_content_length(
    wire: WireConnection, unique_queue: QueueNamer
) -> None:
    body = bytes(range(256)) * 4 + b"\x00\x00end"
    destination = unique_queue("binary")
    sent = Frame("SEND", {"destination": destination, "content-length": str(len(body))}, body)
    received = _round_trip(wire, destination, sent)
    assert received.body == body


def test_a_one_mebibyte_body_arrives_whole(wire: WireConnection, unique_queue: QueueNamer) -> None:
    body = uuid.uuid4().bytes * (1 << 16)
    destination = unique_queue("large")
    sent = Frame("SEND", {"destination": destination, "content-length": str(len(body))}, body)
    received = _round_trip(wire, destination, sent)
    assert len(received.body) == 1 << 20
    assert received.body == body


def test_utf8_and_escapable_header_values_round_trip(
    wire: WireConnection, version: Version, broker: BrokerInfo, unique_queue: QueueNamer
) -> None:
    destination = unique_queue("headers")
    values = {"x-utf8": "grüße, 東京, ✓", "x-colon": "urn:a:b", "x-backslash": "C:\\temp\\x"}
    if version is not Version.V1_0:
        values["x-newline"] = "two\nlines"
    elif broker.name == "rabbitmq":
        # RabbitMQ escapes and unescapes headers even on 1.0, where the spec has no escaping:
        # it sends "urn\ca\cb" back and drops the connection on "\t". Only UTF-8 is portable.
        del values["x-colon"], values["x-backslash"]
    sent = Frame("SEND", {"destination": destination, **values}, b"headers")
    received = _round_trip(wire, destination, sent)
    for name, value in values.items():
        assert received.get(name) == value, name


def test_message_ids_with_colons_are_unescaped_so_an_ack_names_the_right_message(
    wire: WireConnection, version: Version, unique_queue: QueueNamer
) -> None:
    destination = unique_queue("ack")
    subscribe = {"destination": destination, "ack": "client-individual"}
    if version is Version.V1_0:
        subscribe["ack"] = "client"
    else:
        subscribe["id"] = "s1"
    wire.write(Frame("SUBSCRIBE", subscribe))
    wire.write(Frame("SEND", {"destination": destination}, b"one"))
    message = wire.expect("MESSAGE")
    message_id = message.get("message-id")
    assert message_id is not None
    assert "\\" not in message_id
    if version is Version.V1_2:
        token = message.get("ack")
        assert token is not None
        ack = {"id": token, "receipt": "acked"}
    else:
        ack = {"message-id": message_id, "receipt": "acked"}
        if version is Version.V1_1:
            ack["subscription"] = "s1"
    wire.write(Frame("ACK", ack))
    receipt = wire.expect("RECEIPT")
    assert receipt.get("receipt-id") == "acked"
