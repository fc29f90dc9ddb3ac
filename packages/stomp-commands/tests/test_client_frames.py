"""Client frames: what each builder writes for each STOMP version, and what it refuses."""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

import pytest

import stomp_commands as sc
from stomp_commands import LocalCommandError, RemoteCommandError
from stomp_frame import Frame, Parser, Version, serialize

ALL = (Version.V1_0, Version.V1_1, Version.V1_2)
ESCAPING = (Version.V1_1, Version.V1_2)


def roundtrip(frame: Frame, version: Version) -> Frame:
    """Serialize as the client would and read back as a server would."""
    parsed = Parser(version).feed(serialize(frame, version))
    assert len(parsed) == 1
    result = parsed[0]
    assert isinstance(result, Frame)
    return result


class Pair(NamedTuple):
    name: str
    value: str


def message(version: Version, **headers: str) -> sc.MessageInfo:
    pairs = {"destination": "/queue/a", "message-id": "m-1", "subscription": "s-1", **headers}
    return sc.read_message(Frame("MESSAGE", pairs, b"x"), version)


class TestConnect:
    def test_offers_every_version_oldest_first_with_host_and_heart_beat(self) -> None:
        frame = sc.connect(host="/", versions=(Version.V1_2, Version.V1_0, Version.V1_1))
        assert frame.command == "CONNECT"
        assert frame.headers == (
            ("accept-version", "1.0,1.1,1.2"),
            ("host", "/"),
            ("heart-beat", "0,0"),
        )

    def test_host_is_the_virtual_host_given_not_a_network_address(self) -> None:
        frame = sc.connect(host="my-vhost", versions=(Version.V1_2,))
        assert frame.get("host") == "my-vhost"
        assert frame.get("accept-version") == "1.2"

    def test_login_passcode_and_heart_beat_are_written(self) -> None:
        frame = sc.connect(host="/", login="guest", passcode="s3cret", heart_beat=(10000, 5000))
        assert frame.get("login") == "guest"
        assert frame.get("passcode") == "s3cret"
        assert frame.get("heart-beat") == "10000,5000"

    def test_passcode_is_redacted_in_repr(self) -> None:
        frame = sc.connect(host="/", login="guest", passcode="s3cret")
        assert "s3cret" not in repr(frame)

    def test_a_10_only_offer_has_no_accept_version_and_no_heart_beat(self) -> None:
        frame = sc.connect(host="/", versions=(Version.V1_0,), heart_beat=(1000, 1000))
        assert not frame.has("accept-version")
        assert not frame.has("heart-beat")

    def test_stomp_command_is_the_11_name_of_connect(self) -> None:
        assert sc.connect(host="/", command="STOMP").command == "STOMP"

    def test_stomp_command_is_refused_for_a_10_only_offer(self) -> None:
        with pytest.raises(LocalCommandError, match=r"from STOMP 1.1"):
            sc.connect(host="/", versions=(Version.V1_0,), command="STOMP")

    def test_extra_headers_follow(self) -> None:
        frame = sc.connect(host="/", headers={"client-id": "c1"})
        assert frame.headers[-1] == ("client-id", "c1")

    @pytest.mark.parametrize("name", ["host", "login", "passcode", "heart-beat", "accept-version"])
    def test_reserved_names_in_extra_headers_are_refused(self, name: str) -> None:
        with pytest.raises(LocalCommandError, match="own parameter"):
            sc.connect(host="/", headers={name: "x"})

    def test_a_line_feed_in_the_passcode_is_refused_without_showing_it(self) -> None:
        with pytest.raises(LocalCommandError) as info:
            sc.connect(host="/", passcode="top\nsecret")
        assert "secret" not in str(info.value).replace("'passcode'", "")
        assert "never escaped" in str(info.value)

    def test_a_colon_in_a_connect_header_value_is_fine(self) -> None:
        frame = sc.connect(host="/", login="user:with:colons")
        assert roundtrip(frame, Version.V1_2).get("login") == "user:with:colons"

    @pytest.mark.parametrize("heart_beat", [(-1, 0), (0,), (1.5, 0), "0,0", (True, 0)], ids=repr)
    def test_a_malformed_heart_beat_is_refused(self, heart_beat: object) -> None:
        with pytest.raises(LocalCommandError, match="heart_beat"):
            sc.connect(host="/", heart_beat=heart_beat)  # type: ignore[arg-type]

    def test_no_version_offered_is_refused(self) -> None:
        with pytest.raises(LocalCommandError, match="at least one"):
            sc.connect(host="/", versions=())

    def test_a_non_version_is_refused(self) -> None:
        with pytest.raises(LocalCommandError, match="Version"):
            sc.connect(host="/", versions=("1.2",))  # type: ignore[arg-type]

    def test_an_unknown_command_is_refused(self) -> None:
        with pytest.raises(LocalCommandError, match="CONNECT"):
            sc.connect(host="/", command="HELLO")  # type: ignore[arg-type]

    def test_an_empty_host_is_refused(self) -> None:
        with pytest.raises(LocalCommandError, match="host"):
            sc.connect(host="")

    def test_a_non_str_passcode_is_refused_without_showing_it(self) -> None:
        with pytest.raises(LocalCommandError, match="must be a str") as info:
            sc.connect(host="/", passcode=12345)  # type: ignore[arg-type]
        assert "12345" not in str(info.value)

    def test_a_non_str_extra_header_value_is_refused_without_showing_it(self) -> None:
        with pytest.raises(LocalCommandError, match=r"CONNECT.*'token'") as info:
            sc.connect(host="/", headers={"token": 987654321})  # type: ignore[arg-type]
        assert "987654321" not in str(info.value)

    def test_a_line_feed_in_an_extra_header_is_refused_for_any_version(self) -> None:
        with pytest.raises(LocalCommandError, match="never escaped"):
            sc.connect(host="/", versions=(Version.V1_2,), headers=[("note", "a\nb")])


class TestSend:
    @pytest.mark.parametrize("version", ALL)
    def test_content_length_is_added_by_default(self, version: Version) -> None:
        frame = sc.send(version, "/queue/a", b"hello")
        assert frame.headers == (("destination", "/queue/a"), ("content-length", "5"))
        assert roundtrip(frame, version).body == b"hello"

    def test_content_length_can_be_left_out_for_activemq_text_messages(self) -> None:
        frame = sc.send(Version.V1_2, "/queue/a", b"text", content_length=False)
        assert not frame.has("content-length")

    def test_a_nul_in_the_body_needs_content_length(self) -> None:
        with pytest.raises(LocalCommandError, match="NUL"):
            sc.send(Version.V1_2, "/queue/a", b"a\0b", content_length=False)

    def test_binary_body_with_nul_round_trips(self) -> None:
        frame = sc.send(Version.V1_2, "/queue/a", b"\0\1\2")
        assert roundtrip(frame, Version.V1_2).body == b"\0\1\2"

    def test_transaction_receipt_and_extra_headers(self) -> None:
        frame = sc.send(
            Version.V1_1,
            "/queue/a",
            b"",
            headers=[("persistent", "true"), ("x", "1"), ("x", "2")],
            transaction="tx-1",
            receipt="r-1",
        )
        assert frame.get("transaction") == "tx-1"
        assert frame.get("receipt") == "r-1"
        assert frame.get_all("x") == ("1", "2")

    @pytest.mark.parametrize("name", ["destination", "content-length", "receipt", "transaction"])
    def test_reserved_names_in_extra_headers_are_refused(self, name: str) -> None:
        with pytest.raises(LocalCommandError, match=name):
            sc.send(Version.V1_2, "/queue/a", headers={name: "x"})

    def test_a_header_with_a_line_feed_is_refused_on_10(self) -> None:
        with pytest.raises(LocalCommandError, match=r"STOMP 1.0 cannot escape"):
            sc.send(Version.V1_0, "/queue/a", headers={"note": "two\nlines"})

    def test_a_header_name_with_a_colon_is_refused_on_10(self) -> None:
        with pytest.raises(LocalCommandError, match="colon"):
            sc.send(Version.V1_0, "/queue/a", headers={"a:b": "v"})

    def test_a_carriage_return_is_refused_on_11(self) -> None:
        with pytest.raises(LocalCommandError, match="carriage return"):
            sc.send(Version.V1_1, "/queue/a", headers={"note": "a\rb"})

    @pytest.mark.parametrize("version", ESCAPING)
    def test_colons_and_line_feeds_are_escaped_from_11(self, version: Version) -> None:
        frame = sc.send(version, "/queue/a", headers={"a:b": "x\ny:z"})
        assert roundtrip(frame, version).get("a:b") == "x\ny:z"

    def test_a_carriage_return_round_trips_on_12(self) -> None:
        frame = sc.send(Version.V1_2, "/queue/a", headers={"note": "a\r\nb"})
        assert roundtrip(frame, Version.V1_2).get("note") == "a\r\nb"

    def test_an_empty_destination_is_refused(self) -> None:
        with pytest.raises(LocalCommandError, match="destination"):
            sc.send(Version.V1_2, "")

    def test_a_str_body_is_refused(self) -> None:
        with pytest.raises(LocalCommandError, match="bytes"):
            sc.send(Version.V1_2, "/queue/a", "text")  # type: ignore[arg-type]

    @pytest.mark.parametrize("headers", [[("a",)], [("a", 1)], [("", "v")]], ids=repr)
    def test_malformed_extra_headers_are_refused(self, headers: object) -> None:
        with pytest.raises(LocalCommandError):
            sc.send(Version.V1_2, "/queue/a", headers=headers)  # type: ignore[arg-type]

    def test_headers_that_are_neither_a_mapping_nor_pairs_are_refused(self) -> None:
        with pytest.raises(
            LocalCommandError, match=r"mapping or \(name, value\) pairs, got an int"
        ):
            sc.send(Version.V1_2, "/queue/a", headers=42)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "headers",
        [{"a": "s3cret", "priority": 987654321}, [("a", "s3cret"), ("priority", 987654321)]],
        ids=["mapping", "pairs"],
    )
    def test_a_non_str_header_value_is_refused_without_showing_it(self, headers: object) -> None:
        with pytest.raises(LocalCommandError, match=r"SEND headers.*'priority' is an int") as info:
            sc.send(Version.V1_2, "/queue/a", headers=headers)  # type: ignore[arg-type]
        assert "987654321" not in str(info.value)
        assert "s3cret" not in str(info.value)
        assert info.value.__cause__ is None

    @pytest.mark.parametrize(
        ("headers", "said"),
        [
            ({"a": "s3cret", 7: "s3cret"}, "the name of header 1 is an int"),
            ([("a", "s3cret"), ("b",)], "header 1 has 1 item, not 2"),
            ([("a", "s3cret"), "ab"], "header 1 is a str"),
            (MappingProxyType({"": "s3cret"}), "name must not be empty"),
        ],
        ids=["mapping-name", "pairs-shape", "pairs-str", "mapping-empty-name"],
    )
    def test_a_bad_header_is_named_by_its_place_among_the_extra_headers(
        self, headers: object, said: str
    ) -> None:
        with pytest.raises(LocalCommandError, match="invalid SEND headers") as info:
            sc.send(Version.V1_2, "/queue/a", headers=headers)  # type: ignore[arg-type]
        assert said in str(info.value)
        assert "s3cret" not in str(info.value)

    def test_a_list_is_not_a_header_pair(self) -> None:
        with pytest.raises(LocalCommandError, match="header 1 is of type list, not a"):
            sc.send(Version.V1_2, "/queue/a", headers=[("a", "1"), ["b", "2"]])  # type: ignore[list-item]

    def test_named_tuples_are_header_pairs(self) -> None:
        frame = sc.send(Version.V1_2, "/queue/a", headers=[Pair("x", "1"), Pair("x", "2")])
        assert frame.get_all("x") == ("1", "2")
        assert all(type(pair) is tuple for pair in frame.headers)

    @pytest.mark.parametrize("version", ALL)
    def test_a_mapping_and_pairs_give_equal_frames(self, version: Version) -> None:
        extra = {"content-type": "text/plain", "persistent": "true", "priority": "4"}
        frames = [
            sc.send(version, "/queue/a", b"hi", headers=given, transaction="t", receipt="r")
            for given in (extra, MappingProxyType(extra), list(extra.items()), iter(extra.items()))
        ]
        assert frames[0].headers == (
            ("destination", "/queue/a"),
            ("content-length", "2"),
            ("transaction", "t"),
            ("receipt", "r"),
            ("content-type", "text/plain"),
            ("persistent", "true"),
            ("priority", "4"),
        )
        assert all(frame == frames[0] for frame in frames)
        assert all(roundtrip(frame, version) == frames[0] for frame in frames)

    @pytest.mark.parametrize("name", ["destination", "content-length", "receipt", "transaction"])
    def test_reserved_names_in_extra_pairs_are_refused(self, name: str) -> None:
        with pytest.raises(
            LocalCommandError, match=f"the '{name}' header of SEND .* own parameter"
        ):
            sc.send(Version.V1_2, "/queue/a", headers=[("x", "1"), (name, "2")])

    @pytest.mark.parametrize(
        ("version", "value", "said"),
        [
            (Version.V1_0, "two\nlines", "STOMP 1.0 cannot escape"),
            (Version.V1_1, "a\rb", "carriage return"),
        ],
    )
    def test_extra_pairs_are_checked_for_the_version(
        self, version: Version, value: str, said: str
    ) -> None:
        with pytest.raises(LocalCommandError, match=said):
            sc.send(version, "/queue/a", headers=[("note", "ok"), ("note", value)])

    def test_a_non_str_destination_is_refused(self) -> None:
        with pytest.raises(LocalCommandError, match="destination of SEND must be a str"):
            sc.send(Version.V1_2, b"/queue/a")  # type: ignore[arg-type]


class TestSubscribe:
    @pytest.mark.parametrize("version", ALL)
    def test_id_destination_and_an_explicit_ack_header(self, version: Version) -> None:
        frame = sc.subscribe(version, "/queue/a", id="s-1")
        assert frame.headers == (("destination", "/queue/a"), ("id", "s-1"), ("ack", "auto"))

    @pytest.mark.parametrize("version", ESCAPING)
    def test_id_is_required_from_11(self, version: Version) -> None:
        with pytest.raises(LocalCommandError, match="id header MUST be included"):
            sc.subscribe(version, "/queue/a")

    def test_id_is_optional_on_10(self) -> None:
        frame = sc.subscribe(Version.V1_0, "/queue/a", ack="client")
        assert frame.headers == (("destination", "/queue/a"), ("ack", "client"))

    def test_client_individual_is_refused_on_10(self) -> None:
        with pytest.raises(LocalCommandError, match="client-individual"):
            sc.subscribe(Version.V1_0, "/queue/a", id="s", ack="client-individual")

    def test_an_unknown_ack_mode_is_refused(self) -> None:
        with pytest.raises(LocalCommandError, match="ack must be"):
            sc.subscribe(Version.V1_2, "/queue/a", id="s", ack="manual")  # type: ignore[arg-type]

    def test_receipt_and_extra_headers(self) -> None:
        frame = sc.subscribe(
            Version.V1_2, "/queue/a", id="s", headers={"selector": "a = 1"}, receipt="r"
        )
        assert frame.get("selector") == "a = 1"
        assert frame.get("receipt") == "r"

    @pytest.mark.parametrize("name", ["destination", "id", "ack", "receipt"])
    def test_reserved_names_in_extra_headers_are_refused(self, name: str) -> None:
        with pytest.raises(LocalCommandError, match="own parameter"):
            sc.subscribe(Version.V1_2, "/queue/a", id="s", headers={name: "x"})

    def test_a_non_str_extra_header_is_refused_naming_subscribe(self) -> None:
        with pytest.raises(LocalCommandError, match=r"invalid SUBSCRIBE headers.*'prefetch'"):
            sc.subscribe(Version.V1_2, "/queue/a", id="s", headers={"prefetch": 10})  # type: ignore[arg-type]


class TestUnsubscribe:
    @pytest.mark.parametrize("version", ALL)
    def test_by_id(self, version: Version) -> None:
        assert sc.unsubscribe(version, id="s-1", receipt="r").headers == (
            ("id", "s-1"),
            ("receipt", "r"),
        )

    def test_by_destination_on_10(self) -> None:
        frame = sc.unsubscribe(Version.V1_0, destination="/queue/a")
        assert frame.headers == (("destination", "/queue/a"),)

    @pytest.mark.parametrize("version", ESCAPING)
    def test_by_destination_is_refused_from_11(self, version: Version) -> None:
        with pytest.raises(LocalCommandError, match=r"1.0 only"):
            sc.unsubscribe(version, destination="/queue/a")

    def test_needs_exactly_one_of_id_and_destination(self) -> None:
        with pytest.raises(LocalCommandError, match="exactly one"):
            sc.unsubscribe(Version.V1_0)
        with pytest.raises(LocalCommandError, match="exactly one"):
            sc.unsubscribe(Version.V1_0, id="s", destination="/queue/a")


class TestAckAndNack:
    def test_10_acks_by_message_id(self) -> None:
        frame = sc.ack(Version.V1_0, message(Version.V1_0))
        assert frame.headers == (("message-id", "m-1"),)

    def test_11_acks_by_subscription_and_message_id(self) -> None:
        frame = sc.ack(Version.V1_1, message(Version.V1_1))
        assert frame.headers == (("subscription", "s-1"), ("message-id", "m-1"))

    def test_12_acks_with_the_ack_header_as_id(self) -> None:
        frame = sc.ack(Version.V1_2, message(Version.V1_2, ack="token-7"))
        assert frame.headers == (("id", "token-7"),)

    def test_12_ack_of_a_message_without_ack_header_is_refused(self) -> None:
        with pytest.raises(LocalCommandError, match="no 'ack' header"):
            sc.ack(Version.V1_2, message(Version.V1_2))

    def test_11_ack_of_a_message_without_subscription_is_refused(self) -> None:
        info = sc.read_message(
            Frame("MESSAGE", {"destination": "/q", "message-id": "m"}), Version.V1_0
        )
        with pytest.raises(LocalCommandError, match="subscription"):
            sc.ack(Version.V1_1, info)

    def test_nack_is_refused_on_10(self) -> None:
        with pytest.raises(LocalCommandError, match=r"NACK does not exist in STOMP 1.0"):
            sc.nack(Version.V1_0, message(Version.V1_0))

    @pytest.mark.parametrize(
        ("version", "expected"),
        [
            (Version.V1_1, (("subscription", "s-1"), ("message-id", "m-1"))),
            (Version.V1_2, (("id", "token-7"),)),
        ],
    )
    def test_nack_names_the_message_like_ack(
        self, version: Version, expected: tuple[tuple[str, str], ...]
    ) -> None:
        frame = sc.nack(version, message(version, ack="token-7"))
        assert frame.command == "NACK"
        assert frame.headers == expected

    def test_transaction_and_receipt(self) -> None:
        frame = sc.ack(Version.V1_2, message(Version.V1_2, ack="t"), transaction="tx", receipt="r")
        assert frame.headers == (("id", "t"), ("transaction", "tx"), ("receipt", "r"))

    def test_a_raw_message_frame_is_accepted(self) -> None:
        raw = Frame(
            "MESSAGE",
            {"destination": "/q", "message-id": "m", "subscription": "s", "ack": "a"},
        )
        assert sc.ack(Version.V1_2, raw).headers == (("id", "a"),)

    def test_a_raw_frame_that_is_not_a_message_is_a_remote_error(self) -> None:
        with pytest.raises(RemoteCommandError, match="expected a MESSAGE"):
            sc.ack(Version.V1_2, Frame("RECEIPT", {"receipt-id": "r"}))

    def test_activemq_message_id_with_escaped_colons_is_acked_unescaped(self) -> None:
        wire = (
            b"MESSAGE\ndestination:/queue/a\nsubscription:0\n"
            b"message-id:ID\\cbroker-41231-1700000000000-1\\c1\\c1\\c1\\c1\n\nhi\0"
        )
        (raw,) = Parser(Version.V1_1).feed(wire)
        assert isinstance(raw, Frame)
        frame = sc.ack(Version.V1_1, sc.read_message(raw, Version.V1_1))
        assert frame.get("message-id") == "ID:broker-41231-1700000000000-1:1:1:1:1"
        assert b"message-id:ID\\cbroker-41231-1700000000000-1\\c1\\c1\\c1\\c1\n" in serialize(
            frame, Version.V1_1
        )


class TestTransactionsAndDisconnect:
    @pytest.mark.parametrize("build", [sc.begin, sc.commit, sc.abort])
    @pytest.mark.parametrize("version", ALL)
    def test_transaction_frames_carry_the_id(self, build: object, version: Version) -> None:
        assert callable(build)
        frame = build(version, "tx-1", receipt="r")
        assert isinstance(frame, Frame)
        assert frame.headers == (("transaction", "tx-1"), ("receipt", "r"))

    def test_an_empty_transaction_id_is_refused(self) -> None:
        with pytest.raises(LocalCommandError, match="transaction"):
            sc.begin(Version.V1_2, "")

    def test_disconnect_with_and_without_receipt(self) -> None:
        assert sc.disconnect(Version.V1_2).headers == ()
        assert sc.disconnect(Version.V1_2, receipt="bye").headers == (("receipt", "bye"),)

    def test_heart_beat_is_one_end_of_line(self) -> None:
        assert sc.heart_beat() == b"\n"
        assert Parser(Version.V1_2).feed(sc.heart_beat()) != []
