"""Parsing failover URIs: every form, every option, IPv6, and the errors."""

from __future__ import annotations

import pickle

import pytest

from stomp_failover import Broker, FailoverError, FailoverOptions, FailoverUri, UriError


def tcp(host: str, port: int = 61613, **options: str) -> Broker:
    return Broker(scheme="tcp", host=host, port=port, options=options)


class TestForms:
    def test_parenthesized_list_with_options(self) -> None:
        uri = FailoverUri.parse(
            "failover:(tcp://primary:61613,ssl://secondary:61614)?randomize=false"
        )
        assert uri.brokers == (
            tcp("primary"),
            Broker(scheme="ssl", host="secondary", port=61614),
        )
        assert uri.options == FailoverOptions(randomize=False)

    def test_parenthesized_list_without_options(self) -> None:
        uri = FailoverUri.parse("failover:(tcp://a:1,tcp://b:2)")
        assert uri.brokers == (tcp("a", 1), tcp("b", 2))
        assert uri.options == FailoverOptions()

    def test_plain_list_takes_the_trailing_query_as_failover_options(self) -> None:
        uri = FailoverUri.parse("failover:tcp://a:1,tcp://b:2?maxReconnectAttempts=3")
        assert uri.brokers == (tcp("a", 1), tcp("b", 2))
        assert uri.options.max_reconnect_attempts == 3

    def test_double_slash_after_failover_is_accepted(self) -> None:
        assert FailoverUri.parse("failover://(tcp://a:1)").brokers == (tcp("a", 1),)

    def test_failover_prefix_is_case_insensitive(self) -> None:
        assert FailoverUri.parse("FAILOVER:(tcp://a:1)").brokers == (tcp("a", 1),)

    def test_bare_broker(self) -> None:
        uri = FailoverUri.parse("tcp://localhost:61613")
        assert uri.brokers == (tcp("localhost"),)
        assert uri.options == FailoverOptions()

    def test_bare_ssl_broker(self) -> None:
        (broker,) = FailoverUri.parse("ssl://mq.example.com:61614").brokers
        assert broker.scheme == "ssl"
        assert broker.address == ("mq.example.com", 61614)

    def test_bare_broker_query_mixes_failover_and_broker_options(self) -> None:
        uri = FailoverUri.parse("tcp://h:1?randomize=false&vhost=prod")
        assert uri.options.randomize is False
        assert uri.brokers == (tcp("h", 1, vhost="prod"),)

    def test_bare_list_without_prefix_is_a_list(self) -> None:
        assert FailoverUri.parse("tcp://a:1,tcp://b:2").brokers == (tcp("a", 1), tcp("b", 2))

    def test_surrounding_white_space_is_ignored(self) -> None:
        assert FailoverUri.parse("  tcp://a:1\n").brokers == (tcp("a", 1),)

    def test_scheme_is_case_insensitive_and_host_is_lower_cased(self) -> None:
        assert FailoverUri.parse("TCP://MQ.Example.COM:1").brokers == (tcp("mq.example.com", 1),)

    def test_a_trailing_slash_is_accepted(self) -> None:
        assert FailoverUri.parse("tcp://a:1/").brokers == (tcp("a", 1),)


class TestIPv6:
    def test_loopback_in_brackets(self) -> None:
        (broker,) = FailoverUri.parse("tcp://[::1]:61613").brokers
        assert broker.host == "::1"
        assert broker.address == ("::1", 61613)
        assert str(broker) == "tcp://[::1]:61613"

    def test_address_is_compressed(self) -> None:
        (broker,) = FailoverUri.parse("tcp://[2001:DB8:0:0:0:0:0:1]:1").brokers
        assert broker.host == "2001:db8::1"

    def test_in_a_failover_list_with_per_broker_options(self) -> None:
        uri = FailoverUri.parse("failover:(tcp://[::1]:1?vhost=a,tcp://[fe80::2]:2)")
        assert uri.brokers == (tcp("::1", 1, vhost="a"), tcp("fe80::2", 2))

    def test_zone_identifier_is_percent_encoded(self) -> None:
        (broker,) = FailoverUri.parse("tcp://[fe80::1%25eth0]:1").brokers
        assert broker.host == "fe80::1%eth0"
        assert str(broker) == "tcp://[fe80::1%25eth0]:1"

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("tcp://::1:61613", "an IPv6 address goes in brackets"),
            ("tcp://[::1:61613", "missing ']' after the IPv6 address"),
            ("tcp://[::1]", "missing port"),
            ("tcp://[::1]x:1", "unexpected 'x:1' after ']'"),
            ("tcp://[::g]:1", "invalid IPv6 address '::g'"),
            ("tcp://[example.com]:1", "only an IPv6 address goes in brackets"),
        ],
    )
    def test_malformed_ipv6_is_an_error(self, text: str, message: str) -> None:
        with pytest.raises(UriError, match=message.replace("[", r"\[").replace("]", r"\]")):
            FailoverUri.parse(text)


class TestFailoverOptions:
    def test_defaults_are_activemq_defaults(self) -> None:
        options = FailoverUri.parse("tcp://a:1").options
        assert options.initial_reconnect_delay == 0.01
        assert options.max_reconnect_delay == 30.0
        assert options.use_exponential_back_off is True
        assert options.back_off_multiplier == 2.0
        assert options.max_reconnect_attempts == -1
        assert options.startup_max_reconnect_attempts == -1
        assert options.reconnect_delay_jitter == 0.0
        assert options.randomize is True
        assert options.priority_backup is False
        assert options.priority_uris == ()

    def test_every_option(self) -> None:
        uri = FailoverUri.parse(
            "failover:(tcp://a:1,tcp://b:2,tcp://c:3)?initialReconnectDelay=100"
            "&maxReconnectDelay=5000&useExponentialBackOff=false&backOffMultiplier=1.5"
            "&maxReconnectAttempts=4&startupMaxReconnectAttempts=0&reconnectDelayJitter=25"
            "&randomize=false&priorityBackup=true&priorityURIs=tcp://b:2,tcp://c:3"
        )
        assert uri.options == FailoverOptions(
            initial_reconnect_delay=0.1,
            max_reconnect_delay=5.0,
            use_exponential_back_off=False,
            back_off_multiplier=1.5,
            max_reconnect_attempts=4,
            startup_max_reconnect_attempts=0,
            reconnect_delay_jitter=0.025,
            randomize=False,
            priority_backup=True,
            priority_uris=(tcp("b", 2), tcp("c", 3)),
        )

    def test_delays_are_milliseconds_in_the_uri_and_seconds_in_the_api(self) -> None:
        options = FailoverUri.parse("tcp://a:1?initialReconnectDelay=1.5").options
        assert options.initial_reconnect_delay == 0.0015

    def test_reconnect_delay_exponent_is_an_alias_of_back_off_multiplier(self) -> None:
        options = FailoverUri.parse("tcp://a:1?reconnectDelayExponent=3").options
        assert options.back_off_multiplier == 3.0

    def test_booleans_ignore_case(self) -> None:
        assert FailoverUri.parse("tcp://a:1?randomize=FALSE").options.randomize is False

    def test_stompest_comma_separator(self) -> None:
        uri = FailoverUri.parse(
            "failover:(tcp://a:1,tcp://b:2)?randomize=false,maxReconnectAttempts=2,"
            "backOffMultiplier=3.0"
        )
        assert uri.options == FailoverOptions(
            randomize=False, max_reconnect_attempts=2, back_off_multiplier=3.0
        )

    def test_comma_inside_priority_uris_is_not_an_option_separator(self) -> None:
        uri = FailoverUri.parse(
            "failover:(tcp://a:1,tcp://b:2,tcp://c:3)"
            "?priorityBackup=true,priorityURIs=tcp://a:1,tcp://c:3,randomize=false"
        )
        assert uri.options.priority_uris == (tcp("a", 1), tcp("c", 3))
        assert uri.options.randomize is False

    def test_priority_uris_match_brokers_by_host_and_port(self) -> None:
        uri = FailoverUri.parse(
            "failover:(ssl://u:pw@a:1?vhost=x,tcp://b:2)?priorityBackup=true&priorityURIs=tcp://a:1"
        )
        assert uri.options.priority_uris == (tcp("a", 1),)

    def test_option_values_are_percent_decoded(self) -> None:
        uri = FailoverUri.parse(
            "failover:(tcp://a:1,tcp://b:2)?priorityBackup=true&priorityURIs=tcp%3A%2F%2Fb%3A2"
        )
        assert uri.options.priority_uris == (tcp("b", 2),)


class TestBrokerOptionsAndCredentials:
    def test_per_broker_options_are_kept_in_order(self) -> None:
        (broker,) = FailoverUri.parse(
            "failover:(ssl://h:1?vhost=%2F&serverHostname=mq.example.com)"
        ).brokers
        assert list(broker.options.items()) == [
            ("vhost", "/"),
            ("serverHostname", "mq.example.com"),
        ]

    def test_per_broker_options_are_read_only(self) -> None:
        (broker,) = FailoverUri.parse("tcp://h:1?vhost=a").brokers
        with pytest.raises(TypeError):
            broker.options["vhost"] = "b"  # type: ignore[index]

    def test_per_broker_options_with_the_stompest_separator(self) -> None:
        (broker,) = FailoverUri.parse("failover:(ssl://h:1?vhost=a,serverHostname=b)").brokers
        assert dict(broker.options) == {"vhost": "a", "serverHostname": "b"}

    def test_the_virtual_host_is_the_option_else_the_clients_else_the_host(self) -> None:
        (own,) = FailoverUri.parse("tcp://h:1?vhost=%2F").brokers
        (plain,) = FailoverUri.parse("tcp://h:1").brokers
        assert own.virtual_host("client-vhost") == "/"
        assert plain.virtual_host("client-vhost") == "client-vhost"
        assert plain.virtual_host() == plain.virtual_host("") == "h"

    def test_the_tls_server_name_is_the_option_else_the_clients_else_the_host(self) -> None:
        (own,) = FailoverUri.parse("ssl://h:1?serverHostname=mq.example.com").brokers
        (plain,) = FailoverUri.parse("ssl://h:1").brokers
        assert own.server_name("client.example") == "mq.example.com"
        assert plain.server_name("client.example") == "client.example"
        assert plain.server_name() == "h"

    def test_a_brokers_own_user_wins_over_the_clients_credentials(self) -> None:
        (own,) = FailoverUri.parse("tcp://bob:s3@h:1").brokers
        (user_only,) = FailoverUri.parse("tcp://bob@h:1").brokers
        (plain,) = FailoverUri.parse("tcp://h:1").brokers
        assert own.credentials("alice", "pw") == ("bob", "s3")
        assert user_only.credentials("alice", "pw") == ("bob", None)
        assert plain.credentials("alice", "pw") == ("alice", "pw")
        assert plain.credentials() == (None, None)

    def test_credentials_are_percent_decoded(self) -> None:
        (broker,) = FailoverUri.parse("tcp://us%40er:p%40ss%3Aword@h:1").brokers
        assert (broker.username, broker.password) == ("us@er", "p@ss:word")

    def test_user_without_password(self) -> None:
        (broker,) = FailoverUri.parse("tcp://guest@h:1").brokers
        assert (broker.username, broker.password) == ("guest", None)
        assert str(broker) == "tcp://guest@h:1"

    def test_empty_password_is_a_password(self) -> None:
        (broker,) = FailoverUri.parse("tcp://guest:@h:1").brokers
        assert broker.password == ""

    def test_unencoded_comma_in_a_password(self) -> None:
        uri = FailoverUri.parse("failover:(tcp://u:a,b@h:1,tcp://k:2)")
        assert uri.brokers[0].password == "a,b"
        assert uri.brokers[1] == tcp("k", 2)

    def test_unencoded_at_sign_in_a_password_is_an_error(self) -> None:
        with pytest.raises(UriError, match="write '@' in a user name or password as %40"):
            FailoverUri.parse("tcp://u:a@b@h:1")

    @pytest.mark.parametrize(
        "text",
        [
            "tcp://admin:S3cretPW@h:1",
            "failover:(tcp://admin:S3cretPW@h:1,tcp://b:2)?randomize=false",
        ],
    )
    def test_password_is_not_in_str_or_repr(self, text: str) -> None:
        uri = FailoverUri.parse(text)
        for shown in (str(uri), repr(uri), str(uri.brokers[0]), repr(uri.brokers[0])):
            assert "S3cretPW" not in shown
        assert "admin:***@h:1" in str(uri)

    @pytest.mark.parametrize(
        "text",
        [
            "tcp://admin:S3cretPW@h:port",
            "tcp://admin:S3cretPW@:1",
            "tcp://admin:S3cretPW@h",
            "tcp://admin:S3cretPW@h:1/queue",
            "tcp://admin:S3cretPW@h:1?bogus=1",
            "failover:(tcp://admin:S3cretPW@h:1",
            "failover:(tcp://admin:S3cretPW@h:1)x",
            "failover:(tcp://admin:S3cretPW@h:1,tcp://admin:S3cretPW@h:1)",
            "failover:tcp://admin:S3cretPW@h:1),",
            "stomp://admin:S3cretPW@h:1",
            "ws://admin:S3cretPW@h:1/a b",
            "admin:S3cretPW@h:1",
            "tcp://:S3cretPW@h:1",
            "failover:(tcp://admin:S3cretPW@h:1#frag)",
            "tcp://admin:S3cretPW@h:1,admin:S3cretPW@k:2",
            "tcp://admin:S3cretPW@h:1,tcp://k:2,",
            "failover:(tcp://a:1)?priorityBackup=true&priorityURIs=tcp://u:S3cretPW@b:2",
            "failover:(tcp://a:1)?priorityURIs=tcp://u:S3cretPW@a:1?x=y",
        ],
    )
    def test_password_is_not_in_error_messages(self, text: str) -> None:
        with pytest.raises(UriError) as caught:
            FailoverUri.parse(text)
        assert "S3cretPW" not in str(caught.value)
        assert "S3cretPW" not in caught.value.part


class TestStr:
    def test_str_is_the_canonical_uri_with_non_default_options(self) -> None:
        uri = FailoverUri.parse(
            "failover:tcp://a:1,ssl://[::1]:2?randomize=false,initialReconnectDelay=100"
        )
        assert str(uri) == (
            "failover:(tcp://a:1,ssl://[::1]:2)?initialReconnectDelay=100&randomize=false"
        )

    def test_str_without_options(self) -> None:
        assert str(FailoverUri.parse("tcp://a:1")) == "failover:(tcp://a:1)"

    def test_str_parses_back_to_an_equal_uri(self) -> None:
        text = (
            "failover:(ssl://a:1?vhost=%2Fprod%26x&serverHostname=a.example,tcp://b:2)"
            "?initialReconnectDelay=7&maxReconnectDelay=8&useExponentialBackOff=false"
            "&backOffMultiplier=1.25&maxReconnectAttempts=0&startupMaxReconnectAttempts=3"
            "&reconnectDelayJitter=0.5&priorityBackup=true&priorityURIs=tcp://b:2"
        )
        uri = FailoverUri.parse(text)
        assert FailoverUri.parse(str(uri)) == uri


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "message", "part"),
        [
            ("", "empty failover URI", ""),
            ("failover:", "no broker given", ""),
            ("failover:()", "no broker given", ""),
            ("failover:(tcp://a:1", "missing ')' after the broker list", "failover:(tcp://a:1"),
            ("failover:(tcp://a:1)x", "unexpected 'x' after ')'", "x"),
            ("failover:((tcp://a:1))", "unexpected '(' inside the broker list", "(tcp://a:1"),
            ("failover:tcp://a:1)", "unbalanced parenthesis", "failover:tcp://a:1)"),
            ("failover:(tcp://a:1,)", "empty broker in the list", ""),
            ("failover:(,tcp://a:1)", "empty broker in the list", ""),
            ("failover:(tcp://a:1,,tcp://b:2)", "empty broker in the list", ""),
            ("localhost:61613", "broker 'localhost:61613' has no scheme", "localhost:61613"),
            ("stomp://a:1", "unsupported scheme 'stomp'", "stomp"),
            ("tcp://", "missing host", "tcp://"),
            ("tcp://:61613", "missing host", "tcp://:61613"),
            ("tcp://a", "missing port in 'tcp://a'", "tcp://a"),
            ("tcp://a:", "invalid port ''", ""),
            ("tcp://a:0", "invalid port '0'", "0"),
            ("tcp://a:65536", "invalid port '65536'", "65536"),
            ("tcp://a:http", "invalid port 'http'", "http"),
            ("tcp://a:1,b:2", "give every broker of the list its scheme", "a:1,b:2"),
            ("tcp://a b:1", "invalid host name 'a b'", "a b"),
            ("tcp://-a:1", "invalid host name '-a'", "-a"),
            ("tcp://bücher.example:1", "invalid host name 'bücher.example'", "bücher.example"),
            ("tcp://a:1/queue", "unexpected path '/queue'", "tcp://a:1/queue"),
            ("tcp://a:1#top", "unexpected '#' fragment", "tcp://a:1#top"),
            ("tcp://@a:1", "empty user name before '@'", "tcp://@a:1"),
            ("tcp://a:1?", "empty option list after '?'", "?"),
            ("tcp://a:1?randomize=false&&maxReconnectAttempts=1", "empty option", "randomize"),
            ("tcp://a:1?randomize", "option 'randomize' is not name=value", "randomize"),
            ("tcp://a:1?=false", "option '=false' is not name=value", "=false"),
            (
                "tcp://a:1?randomize=true&randomize=false",
                "option 'randomize' is given twice",
                "randomize",
            ),
        ],
    )
    def test_malformed_uri(self, text: str, message: str, part: str) -> None:
        with pytest.raises(UriError) as caught:
            FailoverUri.parse(text)
        assert message in str(caught.value)
        assert part in caught.value.part

    @pytest.mark.parametrize(
        ("text", "message", "part"),
        [
            (
                "tcp://a:1?randomise=false",
                "unknown option 'randomise' (did you mean 'randomize'?)",
                "randomise",
            ),
            ("tcp://a:1?colour=red", "unknown option 'colour'", "colour"),
            (
                "tcp://a:1?timeout=3000",
                "option 'timeout' of ActiveMQ's failover transport is not supported",
                "timeout",
            ),
            ("tcp://a:1?backup=true", "option 'backup' of ActiveMQ's failover transport", "backup"),
            (
                "tcp://a:1?nested.wireFormat.maxInactivityDuration=0",
                "not supported here",
                "nested.",
            ),
            ("failover:(tcp://a:1?randomize=false)", "unknown option 'randomize'", "randomize"),
            (
                "failover:(tcp://a:1?vhosts=x)",
                "unknown option 'vhosts' (did you mean 'vhost'?)",
                "vhosts",
            ),
            ("failover:(tcp://a:1)?vhost=x", "'vhost' is a per-broker option", "vhost=x"),
            ("failover:tcp://a:1,tcp://b:2?vhost=x", "'vhost' is a per-broker option", "vhost=x"),
        ],
    )
    def test_unknown_or_misplaced_option(self, text: str, message: str, part: str) -> None:
        with pytest.raises(UriError) as caught:
            FailoverUri.parse(text)
        assert message in str(caught.value)
        assert part in caught.value.part

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("initialReconnectDelay=-5", "initialReconnectDelay must not be negative"),
            (
                "initialReconnectDelay=soon",
                "initialReconnectDelay expects a number of milliseconds",
            ),
            ("initialReconnectDelay=1e3", "initialReconnectDelay expects a number of milliseconds"),
            ("maxReconnectDelay=-1", "maxReconnectDelay must not be negative"),
            (
                "initialReconnectDelay=50000",
                "initialReconnectDelay (50000 ms) exceeds maxReconnectDelay (30000 ms)",
            ),
            ("reconnectDelayJitter=-1", "reconnectDelayJitter must not be negative"),
            ("useExponentialBackOff=1", "useExponentialBackOff expects true or false"),
            ("randomize=yes", "randomize expects true or false"),
            ("randomize=", "randomize expects true or false"),
            ("priorityBackup=on", "priorityBackup expects true or false"),
            ("backOffMultiplier=0.5", "backOffMultiplier must be a finite number of at least 1"),
            ("backOffMultiplier=1e400", "backOffMultiplier must be a finite number of at least 1"),
            ("backOffMultiplier=two", "backOffMultiplier expects a number"),
            ("backOffMultiplier=2&reconnectDelayExponent=3", "not both"),
            (
                "maxReconnectAttempts=-2",
                "maxReconnectAttempts must be -1 (no limit) or a whole number",
            ),
            ("maxReconnectAttempts=1.5", "maxReconnectAttempts expects a whole number"),
            (
                "startupMaxReconnectAttempts=forever",
                "startupMaxReconnectAttempts expects a whole number",
            ),
            ("priorityURIs=tcp://a:1", "priorityURIs has no effect without priorityBackup=true"),
            ("priorityBackup=true&priorityURIs=", "priorityURIs expects a list of broker URIs"),
            (
                "priorityBackup=true&priorityURIs=tcp://z:9",
                "priorityURIs names 'tcp://z:9', which is not one of the brokers",
            ),
            (
                "priorityBackup=true&priorityURIs=tcp://a:1?vhost=x",
                "priorityURIs lists brokers without options",
            ),
        ],
    )
    def test_bad_option_value_names_the_option(self, query: str, message: str) -> None:
        with pytest.raises(UriError) as caught:
            FailoverUri.parse(f"failover:(tcp://a:1)?{query}")
        assert message in str(caught.value)

    def test_bad_value_error_quotes_the_option_as_written(self) -> None:
        with pytest.raises(UriError) as caught:
            FailoverUri.parse("tcp://a:1?randomize=yes")
        assert caught.value.part == "randomize=yes"

    def test_server_hostname_needs_an_ssl_broker(self) -> None:
        with pytest.raises(UriError, match="applies to ssl:// and wss:// brokers only"):
            FailoverUri.parse("tcp://a:1?serverHostname=a.example")

    def test_server_hostname_must_be_a_host_name(self) -> None:
        with pytest.raises(UriError, match="invalid host name 'a b'"):
            FailoverUri.parse("ssl://a:1?serverHostname=a%20b")

    def test_per_broker_option_needs_a_value(self) -> None:
        with pytest.raises(UriError, match="option 'vhost' needs a value"):
            FailoverUri.parse("tcp://a:1?vhost=")

    def test_a_broker_listed_twice_is_an_error(self) -> None:
        with pytest.raises(UriError, match="broker 'tcp://a:1' is listed twice"):
            FailoverUri.parse("failover:(tcp://a:1,TCP://A:1)")

    def test_uri_error_is_a_value_error_and_a_failover_error(self) -> None:
        with pytest.raises(UriError) as caught:
            FailoverUri.parse("tcp://a")
        assert isinstance(caught.value, ValueError)
        assert isinstance(caught.value, FailoverError)

    def test_parse_rejects_non_strings(self) -> None:
        with pytest.raises(TypeError, match="a failover URI is a str, not bytes"):
            FailoverUri.parse(b"tcp://a:1")  # type: ignore[arg-type]


class TestModel:
    def test_broker_validates_when_built(self) -> None:
        with pytest.raises(UriError, match="invalid port 0"):
            Broker(scheme="tcp", host="a", port=0)
        with pytest.raises(UriError, match="invalid port True"):
            Broker(scheme="tcp", host="a", port=True)
        with pytest.raises(UriError, match="unsupported scheme 'udp'"):
            Broker(scheme="udp", host="a", port=1)  # type: ignore[arg-type]
        with pytest.raises(UriError, match="without brackets"):
            Broker(scheme="tcp", host="[::1]", port=1)
        with pytest.raises(UriError, match="a password needs a user name"):
            Broker(scheme="tcp", host="a", port=1, password="pw")
        with pytest.raises(UriError, match="empty user name"):
            Broker(scheme="tcp", host="a", port=1, username="", password="S3cretPW")

    def test_broker_copies_its_options(self) -> None:
        options = {"vhost": "a"}
        broker = Broker(scheme="tcp", host="h", port=1, options=options)
        options["vhost"] = "b"
        assert broker.options["vhost"] == "a"

    def test_brokers_are_hashable_and_equal_by_value(self) -> None:
        one = Broker(scheme="tcp", host="H", port=1, options={"vhost": "a"})
        two = Broker(scheme="tcp", host="h", port=1, options={"vhost": "a"})
        assert one == two
        assert len({one, two}) == 1
        assert one != Broker(scheme="tcp", host="h", port=1, options={"vhost": "b"})

    def test_options_validate_when_built(self) -> None:
        with pytest.raises(UriError, match="initialReconnectDelay must not be negative"):
            FailoverOptions(initial_reconnect_delay=-0.001)
        with pytest.raises(UriError, match="maxReconnectDelay must be a finite number"):
            FailoverOptions(max_reconnect_delay=float("inf"))
        with pytest.raises(UriError, match="backOffMultiplier must be a finite number"):
            FailoverOptions(back_off_multiplier=float("nan"))
        with pytest.raises(UriError, match="startupMaxReconnectAttempts must be -1"):
            FailoverOptions(startup_max_reconnect_attempts=-3)
        with pytest.raises(UriError, match="maxReconnectAttempts must be -1"):
            FailoverOptions(max_reconnect_attempts=True)

    def test_failover_uri_needs_a_broker(self) -> None:
        with pytest.raises(UriError, match="at least one broker"):
            FailoverUri(brokers=())

    def test_failover_uri_built_in_code(self) -> None:
        uri = FailoverUri(
            brokers=[tcp("a", 1), tcp("b", 2)],  # type: ignore[arg-type]
            options=FailoverOptions(randomize=False, initial_reconnect_delay=0.0015),
        )
        assert uri.brokers == (tcp("a", 1), tcp("b", 2))
        assert (
            str(uri) == "failover:(tcp://a:1,tcp://b:2)?initialReconnectDelay=1.5&randomize=false"
        )

    def test_broker_needs_a_host(self) -> None:
        with pytest.raises(UriError, match="missing host"):
            Broker(scheme="tcp", host="", port=1)

    def test_models_and_errors_survive_pickling(self) -> None:
        uri = FailoverUri.parse(
            "failover:(ssl://u:pw@a:1?vhost=v,tcp://b:2)?priorityBackup=true&priorityURIs=tcp://b:2"
        )
        assert pickle.loads(pickle.dumps(uri)) == uri
        assert pickle.loads(pickle.dumps(uri.brokers[0])).password == "pw"
        with pytest.raises(UriError) as caught:
            FailoverUri.parse("tcp://a:1?randomize=yes")
        copy = pickle.loads(pickle.dumps(caught.value))
        assert (type(copy), str(copy), copy.part) == (
            UriError,
            str(caught.value),
            caught.value.part,
        )

    def test_public_names_show_the_public_module(self) -> None:
        assert repr(FailoverUri.parse("tcp://a:1")).startswith("FailoverUri(")
        assert UriError.__module__ == Broker.__module__ == "stomp_failover"

    def test_models_are_frozen(self) -> None:
        uri = FailoverUri.parse("tcp://a:1")
        with pytest.raises(AttributeError):
            uri.brokers = ()  # type: ignore[misc]
        with pytest.raises(AttributeError):
            uri.options.randomize = False  # type: ignore[misc]
        with pytest.raises(AttributeError):
            uri.brokers[0].port = 2  # type: ignore[misc]


class TestWebSocket:
    def test_ws_and_wss_brokers_mix_with_tcp_and_ssl(self) -> None:
        uri = FailoverUri.parse(
            "failover:(tcp://a:61613,ws://b:15674/ws,wss://c:15673/stomp/ws?vhost=v,ssl://d:61614)"
        )
        assert [b.scheme for b in uri.brokers] == ["tcp", "ws", "wss", "ssl"]
        assert [b.path for b in uri.brokers] == ["", "/ws", "/stomp/ws", ""]
        assert [b.websocket for b in uri.brokers] == [False, True, True, False]
        assert [b.tls for b in uri.brokers] == [False, False, True, True]
        assert uri.brokers[2].options == {"vhost": "v"}

    def test_a_bare_ws_uri_keeps_its_path_and_takes_its_query_as_options(self) -> None:
        uri = FailoverUri.parse("ws://user:pw@Host:61614/a/b?vhost=x&randomize=false")
        (broker,) = uri.brokers
        assert (broker.host, broker.port, broker.path) == ("host", 61614, "/a/b")
        assert broker.credentials() == ("user", "pw")
        assert broker.virtual_host() == "x"
        assert uri.options.randomize is False

    def test_a_ws_uri_without_path_asks_for_the_root(self) -> None:
        assert FailoverUri.parse("ws://h:1").brokers[0].path == "/"
        assert FailoverUri.parse("ws://h:1/").brokers[0].path == "/"

    def test_a_ws_uri_without_port_takes_the_websocket_default(self) -> None:
        assert FailoverUri.parse("ws://h/ws").brokers[0].port == 80
        assert FailoverUri.parse("wss://h/ws").brokers[0].port == 443
        assert FailoverUri.parse("wss://[::1]/ws").brokers[0].port == 443
        with pytest.raises(UriError, match="missing port"):
            FailoverUri.parse("tcp://h")

    def test_str_writes_the_path_back(self) -> None:
        uri = FailoverUri.parse("failover:(ws://u:secret@h:1/ws?vhost=v,tcp://h:2)")
        assert str(uri) == "failover:(ws://u:***@h:1/ws?vhost=v,tcp://h:2)"
        assert "secret" not in repr(uri)

    def test_the_path_tells_brokers_apart_and_survives_pickling(self) -> None:
        one, two = FailoverUri.parse("failover:(ws://h:1/a,ws://h:1/b)").brokers
        assert one != two
        assert pickle.loads(pickle.dumps(one)) == one

    def test_server_hostname_applies_to_wss(self) -> None:
        broker = FailoverUri.parse("wss://h:1/ws?serverHostname=name").brokers[0]
        assert broker.server_name() == "name"
        with pytest.raises(UriError, match="ssl:// and wss:// brokers only"):
            FailoverUri.parse("ws://h:1/ws?serverHostname=name")

    def test_a_path_on_a_tcp_broker_is_refused(self) -> None:
        with pytest.raises(UriError, match="only ws:// and wss:// brokers have one"):
            Broker(scheme="tcp", host="h", port=1, path="/ws")

    @pytest.mark.parametrize("path", ["ws", "/a b", "/a#b"])
    def test_a_bad_path_is_refused(self, path: str) -> None:
        with pytest.raises(UriError, match="invalid WebSocket path"):
            Broker(scheme="ws", host="h", port=1, path=path)
