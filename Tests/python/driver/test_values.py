"""Every value type the driver can send comes back equal (parameters in, values out)."""
import datetime

import pytest
import pytz
from neo4j.spatial import CartesianPoint, WGS84Point
from neo4j.time import Date, DateTime, Duration, Time

VALUES = [
    None, True, False, 0, -1, 2**62, -(2**63), 1.5, -0.0, float("inf"), "", "héllo wörld ✓", "x" * 10000,
    b"", b"\x00\x01\xff" * 100, [], [1, 2, 3], [1, "a", None, [2.5, [True]]], {}, {"a": 1, "b": {"c": [1, {"d": "e"}]}},
    Date(2024, 2, 29), Time(12, 30, 15, 123456789), Time(23, 59, 59, 0, tzinfo=pytz.FixedOffset(120)),
    DateTime(2020, 1, 2, 3, 4, 5, 6), DateTime(2020, 6, 1, 12, 0, 0, 0, tzinfo=datetime.timezone.utc),
    Duration(months=14, days=3, seconds=4, nanoseconds=5),
    CartesianPoint((1.0, 2.0)), CartesianPoint((1.0, 2.0, 3.0)), WGS84Point((12.5, 55.6)), WGS84Point((12.5, 55.6, 10.0)),
    datetime.date(1999, 12, 31), datetime.timedelta(days=1, seconds=2),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__ + ":" + repr(v)[:30])
def test_value_round_trip(driver, value):
    with driver.session() as s:
        got = s.run("RETURN $v AS v", v=value).single()["v"]
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = Date.from_native(value)
    if isinstance(value, datetime.timedelta):
        value = Duration(days=value.days, seconds=value.seconds, microseconds=value.microseconds)
    assert got == value
    assert type(got) == type(value) or value is None


def test_named_zone_datetime_round_trip(driver):
    value = DateTime(2021, 3, 28, 3, 30, 0, 0, tzinfo=pytz.timezone("Europe/Stockholm").localize(
        datetime.datetime(2021, 3, 28, 3, 30)).tzinfo)
    with driver.session() as s:
        got = s.run("RETURN $v AS v", v=value).single()["v"]
    assert got == value
    zone = getattr(got.tzinfo, "zone", None) or getattr(got.tzinfo, "key", None)
    assert zone == "Europe/Stockholm"


def test_stored_property_values_round_trip(clean):
    props = {"s": "text", "i": 7, "f": 2.5, "b": True, "l": [1, 2], "ls": ["a", "b"], "d": Date(2000, 1, 1),
             "by": b"\x01\x02", "p": CartesianPoint((3.0, 4.0))}
    with clean.session() as s:
        s.run("CREATE (n:V) SET n = $props", props=props).consume()
        got = dict(s.run("MATCH (n:V) RETURN n").single()["n"].items())
    assert got == props
