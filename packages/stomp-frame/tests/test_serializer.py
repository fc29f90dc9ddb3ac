"""The serializer: exact bytes per version, header escaping, and frames it must refuse to write."""

from __future__ import annotations

import pytest

from stomp_frame import (
    BODY_COMMANDS,
    COMMANDS,
    HEARTBEAT_BYTES,
    UNESCAPED_COMMANDS,
    Frame,
    InvalidFrame,
    Parser,
    Version,
    serialize,
)

ALL_VERSIONS = list(Version)
ESCAPING_VERSIONS = [Version.V1_1, Version.V1_2]
ESCAPED_COMMANDS = sorted(COMMANDS - UNESCAPED_COMMANDS)
NO_BODY_COMMANDS = sorted(COMMANDS - BODY_COMMANDS)


class TestExactBytes:
    def test_send_with_a_body(self) -> None:
        frame = Frame("SEND", {"destination": "/queue/a"}, b"hi")
        assert serialize(frame, Version.V1_2) == b"SEND\ndestination:/queue/a\n\nhi\x00"

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_frame_without_headers_or_body(self, version: Version) -> None:
        assert serialize(Frame("DISCONNECT"), version) == b"DISCONNECT\n\n\x00"

    def test_connect_frame_for_1_2(self) -> None:
        frame = Frame(
            "CONNECT",
            [
                ("accept-version", "1.0,1.1,1.2"),
                ("host", "/"),
                ("login", "guest"),
                ("passcode", "guest"),
                ("heart-beat", "10000,10000"),
            ],
        )
        assert serialize(frame, Version.V1_2) == (
            b"CONNECT\naccept-version:1.0,1.1,1.2\nhost:/\nlogin:guest\npasscode:guest\n"
            b"heart-beat:10000,10000\n\n\x00"
        )

    def test_message_with_escaped_colons_in_1_2(self) -> None:
        frame = Frame(
            "MESSAGE",
            [
                ("subscription", "0"),
                ("message-id", "ID:host-1:2"),
                ("destination", "/queue/a"),
                ("content-length", "3"),
            ],
            b"a\x00b",
        )
        assert serialize(frame, Version.V1_2) == (
            b"MESSAGE\nsubscription:0\nmessage-id:ID\\chost-1\\c2\ndestination:/queue/a\n"
            b"content-length:3\n\na\x00b\x00"
        )

    def test_utf8_header_and_binary_body(self) -> None:
        frame = Frame("SEND", {"destination": "/queue/café", "content-length": "2"}, b"\xff\x00")
        assert serialize(frame, Version.V1_1) == (
            b"SEND\ndestination:/queue/caf\xc3\xa9\ncontent-length:2\n\n\xff\x00\x00"
        )

    def test_heart_beat_bytes_are_one_line_feed(self) -> None:
        assert HEARTBEAT_BYTES == b"\n"


class TestHeadersAreWrittenAsGiven:
    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_repeated_headers_are_all_written_in_order(self, version: Version) -> None:
        frame = Frame("MESSAGE", [("b", "1"), ("a", "2"), ("b", "3")])
        assert serialize(frame, version) == b"MESSAGE\nb:1\na:2\nb:3\n\n\x00"

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_no_content_length_is_invented(self, version: Version) -> None:
        data = serialize(Frame("SEND", {"destination": "/q"}, b"body"), version)
        assert b"content-length" not in data
        assert data == b"SEND\ndestination:/q\n\nbody\x00"

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_content_length_is_written_where_the_frame_has_it(self, version: Version) -> None:
        frame = Frame("SEND", [("content-length", "4"), ("destination", "/q")], b"body")
        assert serialize(frame, version) == b"SEND\ncontent-length:4\ndestination:/q\n\nbody\x00"

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_empty_header_value_is_written(self, version: Version) -> None:
        assert serialize(Frame("SEND", {"a": ""}), version) == b"SEND\na:\n\n\x00"

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_whitespace_in_headers_is_not_trimmed(self, version: Version) -> None:
        frame = Frame("SEND", {" a ": " b "})
        assert serialize(frame, version) == b"SEND\n a : b \n\n\x00"

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_serializing_twice_gives_the_same_bytes(self, version: Version) -> None:
        frame = Frame("SEND", [("a", "x"), ("b", "y")], b"z")
        assert serialize(frame, version) == serialize(frame, version)


class TestEscaping1112:
    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    @pytest.mark.parametrize(
        ("raw", "escaped"),
        [
            ("a\\b", b"a\\\\b"),
            ("a:b", b"a\\cb"),
            ("a\nb", b"a\\nb"),
            ("\\c", b"\\\\c"),
            ("\\\\", b"\\\\\\\\"),
            (":\n\\", b"\\c\\n\\\\"),
        ],
    )
    def test_header_value_escapes(self, version: Version, raw: str, escaped: bytes) -> None:
        data = serialize(Frame("SEND", {"h": raw}), version)
        assert data == b"SEND\nh:" + escaped + b"\n\n\x00"

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_header_name_is_escaped_too(self, version: Version) -> None:
        data = serialize(Frame("SEND", {"a:b\\c\nd": "v"}), version)
        assert data == b"SEND\na\\cb\\\\c\\nd:v\n\n\x00"

    def test_carriage_return_is_escaped_in_1_2(self) -> None:
        data = serialize(Frame("SEND", {"a\rb": "c\rd"}), Version.V1_2)
        assert data == b"SEND\na\\rb:c\\rd\n\n\x00"

    @pytest.mark.parametrize("header", [("a", "x\ry"), ("a\rb", "x"), ("a", "\r")], ids=repr)
    def test_carriage_return_cannot_be_written_in_1_1(self, header: tuple[str, str]) -> None:
        with pytest.raises(InvalidFrame, match=r"1\.1"):
            serialize(Frame("SEND", [header]), Version.V1_1)

    def test_carriage_return_in_a_later_header_is_refused_in_1_1(self) -> None:
        frame = Frame("SEND", [("a", "1"), ("b", "2"), ("c", "x\r")])
        with pytest.raises(InvalidFrame):
            serialize(frame, Version.V1_1)

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    @pytest.mark.parametrize("command", ESCAPED_COMMANDS)
    def test_every_command_but_connect_and_connected_is_escaped(
        self, version: Version, command: str
    ) -> None:
        data = serialize(Frame(command, {"id": "a:b"}), version)
        assert data == command.encode() + b"\nid:a\\cb\n\n\x00"

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_control_characters_other_than_lf_and_cr_are_written_as_is(
        self, version: Version
    ) -> None:
        data = serialize(Frame("SEND", [("a", "\x01\x02\t"), ("b\x01", "c")]), version)
        assert data == b"SEND\na:\x01\x02\t\nb\x01:c\n\n\x00"

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_non_ascii_headers_are_written_as_utf_8(self, version: Version) -> None:
        # Also the characters U+0080 and U+0081, which the serializer joins headers with.
        frame = Frame("SEND", [("caf\xe9", "a:\x80\\"), ("\x81\x80", "\u2713\n")])
        data = serialize(frame, version)
        assert data == (
            b"SEND\ncaf\xc3\xa9:a\\c\xc2\x80\\\\\n\xc2\x81\xc2\x80:\xe2\x9c\x93\\n\n\n\x00"
        )
        assert Parser(version).feed(data) == [frame]

    @pytest.mark.parametrize("header", [("a\x80", "x\ry"), ("\x81", "\u2713\r")], ids=repr)
    def test_carriage_return_beside_non_ascii_text_cannot_be_written_in_1_1(
        self, header: tuple[str, str]
    ) -> None:
        with pytest.raises(InvalidFrame, match=r"1\.1"):
            serialize(Frame("SEND", [("b", "1"), header]), Version.V1_1)


class TestNeverEscapedCommands:
    @pytest.mark.parametrize(
        ("version", "command"),
        [(v, c) for v in ALL_VERSIONS for c in sorted(UNESCAPED_COMMANDS & v.commands)],
    )
    def test_colon_and_backslash_in_values_are_written_raw(
        self, version: Version, command: str
    ) -> None:
        frame = Frame(command, {"session": "ID:host-1:2", "login": "a\\b"})
        assert serialize(frame, version) == (
            command.encode() + b"\nsession:ID:host-1:2\nlogin:a\\b\n\n\x00"
        )

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    @pytest.mark.parametrize("command", sorted(UNESCAPED_COMMANDS))
    @pytest.mark.parametrize(
        "header", [("a", "x\ny"), ("a\nb", "x"), ("a", "x\ry"), ("a:b", "x")], ids=repr
    )
    def test_what_cannot_be_written_unescaped_is_refused(
        self, version: Version, command: str, header: tuple[str, str]
    ) -> None:
        with pytest.raises(InvalidFrame):
            serialize(Frame(command, [header]), version)


class TestVersion10:
    def test_no_escaping_in_1_0(self) -> None:
        frame = Frame("MESSAGE", {"message-id": "ID:a:1", "x": "back\\slash"})
        assert serialize(frame, Version.V1_0) == (
            b"MESSAGE\nmessage-id:ID:a:1\nx:back\\slash\n\n\x00"
        )

    @pytest.mark.parametrize(
        "header",
        [("a", "x\ny"), ("a\nb", "x"), ("a", "\n"), ("a:b", "x"), ("a", "x\ry"), ("a\r", "x")],
        ids=repr,
    )
    def test_what_1_0_cannot_write_is_invalid_not_corrupted(self, header: tuple[str, str]) -> None:
        with pytest.raises(InvalidFrame):
            serialize(Frame("SEND", [("destination", "/q"), header]), Version.V1_0)

    @pytest.mark.parametrize(
        "command", [command for command in NO_BODY_COMMANDS if command in Version.V1_0.commands]
    )
    def test_1_0_allows_a_body_on_any_command(self, command: str) -> None:
        assert serialize(Frame(command, {}, b"x"), Version.V1_0) == command.encode() + b"\n\nx\x00"


class TestBodies:
    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_body_containing_nul_without_content_length_is_refused(self, version: Version) -> None:
        with pytest.raises(InvalidFrame, match="content-length"):
            serialize(Frame("SEND", {"destination": "/q"}, b"a\x00b"), version)

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_body_containing_nul_with_content_length_is_written(self, version: Version) -> None:
        frame = Frame("SEND", {"content-length": "3"}, b"a\x00b")
        assert serialize(frame, version) == b"SEND\ncontent-length:3\n\na\x00b\x00"

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    @pytest.mark.parametrize(
        ("length", "body"),
        [("4", b"abc"), ("2", b"abc"), ("0", b"a"), ("1", b""), ("abc", b"abc"), ("", b"")],
    )
    def test_content_length_that_does_not_match_the_body_is_refused(
        self, version: Version, length: str, body: bytes
    ) -> None:
        with pytest.raises(InvalidFrame, match="content-length"):
            serialize(Frame("SEND", {"content-length": length}, body), version)

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_first_content_length_is_the_one_checked(self, version: Version) -> None:
        frame = Frame("SEND", [("content-length", "9"), ("content-length", "3")], b"abc")
        with pytest.raises(InvalidFrame):
            serialize(frame, version)

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    @pytest.mark.parametrize("command", NO_BODY_COMMANDS)
    def test_body_on_a_command_that_may_not_have_one_is_refused(
        self, version: Version, command: str
    ) -> None:
        with pytest.raises(InvalidFrame, match="body"):
            serialize(Frame(command, {}, b"x"), version)

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    @pytest.mark.parametrize("command", NO_BODY_COMMANDS)
    def test_zero_content_length_is_allowed_on_any_command(
        self, version: Version, command: str
    ) -> None:
        data = serialize(Frame(command, {"content-length": "0"}), version)
        assert data == command.encode() + b"\ncontent-length:0\n\n\x00"

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    @pytest.mark.parametrize("command", sorted(BODY_COMMANDS))
    def test_body_commands_carry_a_body(self, version: Version, command: str) -> None:
        data = serialize(Frame(command, {}, b"payload"), version)
        assert data == command.encode() + b"\n\npayload\x00"

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_body_is_written_verbatim(self, version: Version) -> None:
        body = bytes(range(1, 256)) + b"\n\n\r\n"
        assert serialize(Frame("SEND", {}, body), version) == b"SEND\n\n" + body + b"\x00"


class TestUnwritableHeaders:
    @pytest.mark.parametrize("version", ALL_VERSIONS)
    @pytest.mark.parametrize("header", [("a", "x\x00y"), ("a\x00", "x")], ids=repr)
    def test_nul_in_a_header_is_refused_not_written(
        self, version: Version, header: tuple[str, str]
    ) -> None:
        # A NUL in the header block would end the frame early on the wire.
        with pytest.raises(InvalidFrame):
            serialize(Frame("SEND", [header]), version)

    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_lone_surrogate_cannot_be_encoded(self, version: Version) -> None:
        with pytest.raises(InvalidFrame, match="UTF-8"):
            serialize(Frame("SEND", {"a": "\ud800"}), version)

    def test_1_0_writes_surrogate_escaped_bytes_back_as_they_were_read(self) -> None:
        data = b"MESSAGE\nx:caf\xe9\n\n\x00"
        [frame] = Parser(Version.V1_0).feed(data)
        assert isinstance(frame, Frame)
        assert serialize(frame, Version.V1_0) == data


class TestArguments:
    @pytest.mark.parametrize("version", ["1.0", "1.2", None, 1.2], ids=repr)
    def test_version_must_be_a_version(self, version: object) -> None:
        # Parser(version) refuses a non-Version; the serializer must not guess one either.
        with pytest.raises((TypeError, InvalidFrame)):
            serialize(Frame("SEND", {"a": "b:c"}), version)  # type: ignore[arg-type]

    @pytest.mark.parametrize("frame", [b"SEND\n\n\x00", None, ("SEND", (), b"")], ids=repr)
    def test_frame_must_be_a_frame(self, frame: object) -> None:
        with pytest.raises((TypeError, AttributeError, InvalidFrame)):
            serialize(frame, Version.V1_2)  # type: ignore[arg-type]


class TestSerializedFramesParseBack:
    @pytest.mark.parametrize("version", ALL_VERSIONS)
    def test_a_frame_with_every_escapable_character_survives(self, version: Version) -> None:
        if version is Version.V1_0:
            headers = [("a", "b:c\\d"), ("a", "second")]
        elif version is Version.V1_1:
            headers = [("a:\\\n", ":\\\n"), ("a:\\\n", "second")]
        else:
            headers = [("a:\\\n\r", ":\\\n\r"), ("a:\\\n\r", "second")]
        frame = Frame("MESSAGE", [*headers, ("content-length", "3")], b"\x00\n\x00")
        assert Parser(version).feed(serialize(frame, version)) == [frame]


class TestTheLastHeaderBlockWritten:
    """The serializer keeps the bytes of the last header block it wrote: a frame that only
    looks like the last one (the same joined text, other headers) gets its own bytes."""

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    @pytest.mark.parametrize(
        "lookalike",
        [
            # The headers [("a", "b"), ("c", "d")] join to "a\x80b\x81c\x80d", as these do.
            [("a", "b\x81c\x80d")],
            [("a\x80b\x81c", "d")],
        ],
        ids=repr,
    )
    def test_headers_joining_to_the_same_text_are_written_as_they_are(
        self, version: Version, lookalike: list[tuple[str, str]]
    ) -> None:
        first = Frame("SEND", [("a", "b"), ("c", "d")])
        assert serialize(first, version) == b"SEND\na:b\nc:d\n\n\x00"
        name, value = lookalike[0]
        expected = f"SEND\n{name}:{value}\n\n\x00".encode()
        assert serialize(Frame("SEND", lookalike), version) == expected
        assert serialize(Frame("SEND", dict(lookalike)), version) == expected
        assert serialize(first, version) == b"SEND\na:b\nc:d\n\n\x00"

    def test_a_carriage_return_written_in_1_2_is_still_refused_in_1_1(self) -> None:
        frame = Frame("SEND", {"a": "x\ry", "b": "c:d"})
        assert serialize(frame, Version.V1_2) == b"SEND\na:x\\ry\nb:c\\cd\n\n\x00"
        with pytest.raises(InvalidFrame, match=r"1\.1"):
            serialize(frame, Version.V1_1)
        assert serialize(frame, Version.V1_2) == b"SEND\na:x\\ry\nb:c\\cd\n\n\x00"

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_the_same_headers_written_in_1_1_and_1_2_give_the_same_bytes(
        self, version: Version
    ) -> None:
        frame = Frame("SEND", {"a": "b:c", "d\\": "e\nf"})
        other = Version.V1_1 if version is Version.V1_2 else Version.V1_2
        assert serialize(frame, other) == b"SEND\na:b\\cc\nd\\\\:e\\nf\n\n\x00"
        assert serialize(frame, version) == b"SEND\na:b\\cc\nd\\\\:e\\nf\n\n\x00"

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_the_body_and_command_of_each_frame_are_still_checked(self, version: Version) -> None:
        headers = {"id": "1", "content-length": "1"}
        assert serialize(Frame("SEND", headers, b"x"), version) == (
            b"SEND\nid:1\ncontent-length:1\n\nx\x00"
        )
        with pytest.raises(InvalidFrame, match="does not match"):
            serialize(Frame("SEND", headers, b"xy"), version)
        with pytest.raises(InvalidFrame, match="may not have a body"):
            serialize(Frame("ACK", headers, b"x"), version)
        assert serialize(Frame("MESSAGE", headers, b"y"), version) == (
            b"MESSAGE\nid:1\ncontent-length:1\n\ny\x00"
        )
        assert serialize(Frame("SEND", {"id": "1"}, b"x"), version) == b"SEND\nid:1\n\nx\x00"
        with pytest.raises(InvalidFrame, match="NUL"):
            serialize(Frame("SEND", {"id": "1"}, b"\x00"), version)

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_a_parsed_frame_with_the_headers_just_written_gives_the_same_bytes(
        self, version: Version
    ) -> None:
        built = Frame("MESSAGE", {"message-id": "ID:1:2", "a\\b": "c"}, b"x")
        data = serialize(built, version)
        [parsed] = Parser(version).feed(data)
        assert parsed == built
        assert isinstance(parsed, Frame)
        assert serialize(parsed, version) == data

    @pytest.mark.parametrize("version", ESCAPING_VERSIONS)
    def test_a_large_header_block_is_written_the_same_each_time(self, version: Version) -> None:
        headers = {f"h{i}": "v:" * 50 for i in range(100)}
        expected = b"SEND\n" + b"".join(b"h%d:" % i + b"v\\c" * 50 + b"\n" for i in range(100))
        for _ in range(2):
            assert serialize(Frame("SEND", headers), version) == expected + b"\n\x00"
