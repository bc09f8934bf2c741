"""The strict layer (tests/strictlayer.py) over real HTTP: each rule Glue has and moto 5.2 lacks.

Every test talks to the layer through the suite's endpoint, as the handler does; `lax` clients
skip botocore's own checks where boto3 would refuse a request before it is sent (a value of
length 0, MaxResults 0), so that what Glue answers to it can be shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import REGION, Aws, validating_clients
from tests.strictlayer import StrictLayer

DB = "raw_strict"


@pytest.fixture
def lax(aws: Aws) -> Any:
    """A Glue client without botocore's parameter validation (it refuses values shorter than
    their documented minimum before sending them) and without retries."""
    config = Config(parameter_validation=False, retries={"mode": "standard", "max_attempts": 1})
    return boto3.client("glue", region_name=REGION, endpoint_url=aws.endpoint, config=config)


@contextmanager
def glue_error(code: str, message: str = "") -> Iterator[None]:
    """The block fails with this Glue error code, as an HTTP 400, its message containing
    `message`."""
    with pytest.raises(ClientError) as caught:
        yield
    error = caught.value.response["Error"]
    assert error["Code"] == code, caught.value.response
    assert message in error["Message"], error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def table(aws: Aws, name: str, keys: list[tuple[str, str]], rows: list[list[str]]) -> str:
    """A table of `keys` (name, type) in DB with one partition per row of values."""
    if DB not in {d["Name"] for d in aws.glue.get_databases()["DatabaseList"]}:
        aws.database(DB)
    aws.table(DB, name, f"s3://lake/{name}/", keys)
    aws.register(DB, name, [(row, f"s3://lake/{name}/{'/'.join(row)}/") for row in rows])
    return name


def values_of(pages: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [tuple(p["Values"]) for page in pages for p in page["Partitions"]]


def paginate(aws: Aws, name: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a GetPartitions read, as boto3's paginator follows NextToken."""
    paginator = aws.glue.get_paginator("get_partitions")
    return list(paginator.paginate(DatabaseName=DB, TableName=name, **params))


DAYS = [f"2024-01-{d:02d}" for d in range(1, 26)]
HOURS = [f"{h:02d}" for h in range(10)]


@pytest.fixture
def hourly(aws: Aws) -> str:
    """250 partitions: (dt, hour) for 25 days of 10 hours."""
    return table(
        aws, "hourly", [("dt", "date"), ("hour", "string")], [[d, h] for d in DAYS for h in HOURS]
    )


# --------------------------------------------------------------------------- paging


def test_get_partitions_pages_by_max_results_and_by_default(
    aws: Aws, strict: StrictLayer, hourly: str
) -> None:
    """GetPartitions answers at most MaxResults partitions a call and a NextToken while more
    remain (Glue API reference, GetPartitions: MaxResults, NextToken); without MaxResults the
    layer pages by its `page_size` (100 in tests; Glue's own page is larger)."""
    strict.clear_calls()
    pages = paginate(aws, hourly, PaginationConfig={"PageSize": 60})
    assert [len(p["Partitions"]) for p in pages] == [60, 60, 60, 60, 10]
    assert sorted(values_of(pages)) == sorted((d, h) for d in DAYS for h in HOURS)
    assert all("NextToken" in p for p in pages[:-1]) and "NextToken" not in pages[-1]
    assert strict.pages("GetPartitions", hourly) == 5 and strict.reads("GetPartitions") == 1
    assert [len(p["Partitions"]) for p in paginate(aws, hourly)] == [100, 100, 50]


def test_get_tables_and_get_databases_page_and_hidden_tables_are_left_out(
    aws: Aws, strict: StrictLayer
) -> None:
    """GetTables and GetDatabases page like GetPartitions (Glue API reference: MaxResults,
    NextToken); a table the caller holds no Lake Formation permission on is left out of
    GetTables without an error (Lake Formation permissions reference: DESCRIBE is what lets a
    principal see a table)."""
    aws.database(DB)
    for name in ("a", "b", "c", "d", "e"):
        aws.table(DB, name, f"s3://lake/{name}/", ["dt"])
    for name in ("raw_two", "raw_three"):
        aws.database(name)
    strict.strictness.page_size = 2
    strict.strictness.hidden_tables.add((DB, "c"))
    tables = list(aws.glue.get_paginator("get_tables").paginate(DatabaseName=DB))
    assert [[t["Name"] for t in p["TableList"]] for p in tables] == [["a", "b"], ["d", "e"]]
    databases = list(aws.glue.get_paginator("get_databases").paginate())
    assert [len(p["DatabaseList"]) for p in databases] == [2, 1]
    assert strict.pages("GetTables") == 2 and strict.pages("GetDatabases") == 2


def test_filtered_pages_can_be_empty_and_the_paginator_follows_them(
    aws: Aws, strict: StrictLayer, hourly: str
) -> None:
    """A GetPartitions with an Expression can answer a page with no partition and a NextToken
    (boto/boto3#4504): only following NextToken to its end finds them all."""
    expression = "dt >= '2024-01-20' AND hour IN ('01', '02', '03', '04', '05')"
    strict.clear_calls()
    pages = paginate(aws, hourly, Expression=expression, PaginationConfig={"PageSize": 4})
    sizes = [len(p["Partitions"]) for p in pages]
    assert sizes == [0, 4, 4, 4, 0, 4, 4, 4, 0, 4, 2], sizes
    expected = {(d, h) for d in DAYS[19:] for h in ("01", "02", "03", "04", "05")}
    assert set(values_of(pages)) == expected and len(values_of(pages)) == len(expected)
    assert strict.reads("GetPartitions") == 1 and strict.pages("GetPartitions") == len(sizes)
    strict.strictness.empty_filtered_pages = False
    assert [len(p["Partitions"]) for p in paginate(aws, hourly, Expression=expression)] == [30]


def test_an_empty_filtered_answer_still_takes_two_pages(aws: Aws, hourly: str) -> None:
    """An expression that matches nothing can still answer an empty page with a NextToken
    first (boto/boto3#4504); the read ends at the page without one."""
    pages = paginate(aws, hourly, Expression="dt > '2030-01-01'")
    assert [len(p["Partitions"]) for p in pages] == [0, 0]
    assert "NextToken" in pages[0] and "NextToken" not in pages[1]


@pytest.mark.parametrize(
    ("operation", "params", "most"),
    [
        ("get_partitions", {"DatabaseName": DB, "TableName": "hourly"}, 1000),
        ("get_tables", {"DatabaseName": DB}, 100),
        ("get_databases", {}, 100),
    ],
)
def test_max_results_out_of_range_is_refused(
    lax: Any, hourly: str, operation: str, params: dict[str, Any], most: int
) -> None:
    """MaxResults is 1 to 1,000 for GetPartitions and 1 to 100 for GetTables and GetDatabases
    (Glue API reference, each operation's request parameters)."""
    call: Callable[..., Any] = getattr(lax, operation)
    for wrong in (0, most + 1):
        with glue_error("InvalidInputException", "MaxResults"):
            call(**params, MaxResults=wrong)
    assert call(**params, MaxResults=most)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_unknown_or_foreign_next_token_is_refused(aws: Aws, strict: StrictLayer) -> None:
    """A NextToken is only good for the read that gave it ("a continuation token, if this is
    not the first call", Glue API reference, GetPartitions): a made-up one, one from another
    table's read, or one that expired is refused."""
    rows = [[f"{n:03d}"] for n in range(5)]
    first, second = (table(aws, name, [("n", "string")], rows) for name in ("first", "second"))
    page = aws.glue.get_partitions(DatabaseName=DB, TableName=first, MaxResults=2)
    token = page["NextToken"]
    with glue_error("InvalidInputException", "NextToken"):
        aws.glue.get_partitions(DatabaseName=DB, TableName=first, NextToken="bm90IGEgdG9rZW4=")
    with glue_error("InvalidInputException", "NextToken"):
        aws.glue.get_partitions(DatabaseName=DB, TableName=second, NextToken=token)
    for _ in range(2):  # the same page, as often as asked
        again = aws.glue.get_partitions(
            DatabaseName=DB, TableName=first, NextToken=token, MaxResults=2
        )
        assert [p["Values"] for p in again["Partitions"]] == [["002"], ["003"]]
    strict.reset()
    with glue_error("InvalidInputException", "NextToken"):
        aws.glue.get_partitions(DatabaseName=DB, TableName=first, NextToken=token)


# --------------------------------------------------------------------------- segments


def test_segments_are_disjoint_and_whole_and_page_inside(aws: Aws, hourly: str) -> None:
    """Segment splits a table's partitions into TotalSegments disjoint parts that can be read
    in parallel (Glue API reference, GetPartitions: Segment; "Segment" structure); each part
    pages like a whole read."""
    parts = [
        values_of(
            paginate(
                aws,
                hourly,
                Segment={"SegmentNumber": n, "TotalSegments": 4},
                PaginationConfig={"PageSize": 20},
            )
        )
        for n in range(4)
    ]
    everything = [v for part in parts for v in part]
    assert len(everything) == len(set(everything)) == len(DAYS) * len(HOURS)
    assert all(0 < len(part) < 150 for part in parts), [len(p) for p in parts]
    again = values_of(paginate(aws, hourly, Segment={"SegmentNumber": 1, "TotalSegments": 4}))
    assert again == parts[1]


@pytest.mark.parametrize(
    "segment",
    [
        {"SegmentNumber": 0, "TotalSegments": 11},
        {"SegmentNumber": 0, "TotalSegments": 0},
        {"SegmentNumber": 4, "TotalSegments": 4},
        {"SegmentNumber": -1, "TotalSegments": 4},
    ],
)
def test_segment_out_of_range_is_refused(lax: Any, hourly: str, segment: dict[str, int]) -> None:
    """TotalSegments is 1 to 10 and SegmentNumber 0 to TotalSegments - 1 (Glue API reference,
    "Segment" structure)."""
    with glue_error("InvalidInputException", "Segment"):
        lax.get_partitions(DatabaseName=DB, TableName=hourly, Segment=segment)


# --------------------------------------------------------------------------- expressions


def test_expression_longer_than_2048_characters_is_refused(aws: Aws, hourly: str) -> None:
    """Expression is at most 2,048 characters (Glue API reference, GetPartitions)."""
    base = "dt >= '2024-01-25'"
    longest = base + " " * (2048 - len(base))
    assert len(values_of(paginate(aws, hourly, Expression=longest))) == len(HOURS)
    with glue_error("InvalidInputException", "2048"):
        aws.glue.get_partitions(DatabaseName=DB, TableName=hourly, Expression=longest + " ")


def test_reserved_word_key_is_refused_and_common_time_keys_are_not(aws: Aws) -> None:
    """Glue parses expressions with JSQLParser, which refuses its reserved words as column
    names: a key named `key` cannot be filtered (trinodb/trino#11512; Trino's
    GlueExpressionUtil leaves such keys out of its filters), while year, month, day, hour and
    dt can (Glue API reference, GetPartitions: Expression)."""
    keys = ["key", "year", "month", "day", "hour", "dt"]
    name = table(
        aws, "words", [(k, "string") for k in keys], [["a", "2024", "01", "02", "03", "x"]]
    )
    for word in ("key", "KEY"):
        with glue_error("InvalidInputException", "reserved"):
            aws.glue.get_partitions(DatabaseName=DB, TableName=name, Expression=f"{word} = 'a'")
    fine = "year = '2024' AND month = '01' AND day = '02' AND hour = '03' AND dt = 'x'"
    assert len(values_of(paginate(aws, name, Expression=fine))) == 1


@pytest.mark.parametrize("kind", ["boolean", "double", "float", "array<string>"])
def test_keys_glue_cannot_filter_are_refused(aws: Aws, kind: str) -> None:
    """Only string, date, timestamp, int, bigint, long, tinyint, smallint and decimal keys can
    be filtered; "if an type is encountered that is not valid, an exception is thrown" (Glue
    API reference, GetPartitions: Expression, supported partition key types)."""
    name = table(aws, "odd", [("flag", kind), ("dt", "string")], [["1", "x"]])
    with glue_error("InvalidInputException", "cannot be used in a filter"):
        aws.glue.get_partitions(DatabaseName=DB, TableName=name, Expression="flag = '1'")
    assert len(values_of(paginate(aws, name, Expression="dt = 'x'"))) == 1


def test_unknown_column_is_refused(aws: Aws, hourly: str) -> None:
    """An expression names partition keys only (Glue API reference, GetPartitions)."""
    with glue_error("InvalidInputException", "Unknown column"):
        aws.glue.get_partitions(DatabaseName=DB, TableName=hourly, Expression="region = 'eu'")


def test_typed_keys_compare_by_their_type(aws: Aws) -> None:
    """Comparisons follow the key's type: varchar(n) and char(n) as text, int and decimal(p,s)
    as numbers, date as dates (Glue API reference, GetPartitions: Expression, supported
    partition key types and operators AND, OR, IN, BETWEEN, LIKE, NOT)."""
    keys = [
        ("region", "varchar(10)"),
        ("code", "char(3)"),
        ("amount", "decimal(10,2)"),
        ("n", "int"),
        ("dt", "date"),
    ]
    rows = [
        ["eu-west", "abc", "9.50", "9", "2024-01-09"],
        ["eu-north", "xyz", "10.00", "10", "2024-01-10"],
        ["us-east", "abc", "100.25", "100", "2024-02-01"],
    ]
    name = table(aws, "typed", keys, rows)

    def regions(expression: str) -> list[str]:
        return sorted(v[0] for v in values_of(paginate(aws, name, Expression=expression)))

    assert regions("amount > 9.5") == ["eu-north", "us-east"]  # as text, "10.00" < "9.5"
    assert regions("n >= 10 AND n < 100") == ["eu-north"]
    assert regions("amount BETWEEN '9.5' AND 10") == ["eu-north", "eu-west"]
    assert regions("code IN ('abc') AND NOT region LIKE 'us%'") == ["eu-west"]
    assert regions("dt < '2024-2-1' OR (code = 'xyz' AND region <> 'eu-west')") == [
        "eu-north",
        "eu-west",
    ]
    assert regions("region NOT IN ('eu-west', 'eu-north') AND dt IS NOT NULL") == ["us-east"]
    assert regions("region = 'it''s'") == []


def test_a_hive_default_partition_in_an_int_key_fails_every_filter_on_it(aws: Aws) -> None:
    """Glue converts every stored value of a typed key an expression uses: one
    `__HIVE_DEFAULT_PARTITION__` (or empty) value in an int key makes the whole call fail
    with InvalidStateException, even when that partition would not match (aws/aws-sdk#670);
    an expression on the other keys still works."""
    rows = [["1", "a"], ["2", "b"], ["__HIVE_DEFAULT_PARTITION__", "c"]]
    name = table(aws, "nulls", [("n", "int"), ("s", "string")], rows)
    with glue_error("InvalidStateException", '"__HIVE_DEFAULT_PARTITION__" is not an integer'):
        aws.glue.get_partitions(DatabaseName=DB, TableName=name, Expression="n = 1")
    assert values_of(paginate(aws, name, Expression="s = 'a'")) == [("1", "a")]


# --------------------------------------------------------------------------- writes


def sd(name: str, values: list[str]) -> dict[str, Any]:
    """A PartitionInput of these values."""
    location = f"s3://lake/{name}/{'/'.join(values)}/"
    return {"Values": values, "StorageDescriptor": {"Location": location}}


@pytest.mark.parametrize(
    ("operation", "field", "most"),
    [
        ("BatchCreatePartition", "PartitionInputList", 100),
        ("BatchDeletePartition", "PartitionsToDelete", 25),
        ("BatchGetPartition", "PartitionsToGet", 1000),
    ],
)
def test_batches_over_glue_limits_are_refused_whole(
    aws: Aws, strict: StrictLayer, operation: str, field: str, most: int
) -> None:
    """BatchCreatePartition takes at most 100 partitions, BatchDeletePartition 25 and
    BatchGetPartition 1,000 (Glue API reference, each operation's request parameters): one
    more and the whole call is refused, nothing reaching the catalog."""
    name = table(aws, "batch", [("n", "string")], [])
    items = [sd(name, [f"{i:04d}"]) for i in range(most + 1)]
    if operation != "BatchCreatePartition":
        items = [{"Values": i["Values"]} for i in items]
    call = getattr(aws.glue, xform_name(operation))
    with glue_error("InvalidInputException", f"less than or equal to {most}"):
        call(DatabaseName=DB, TableName=name, **{field: items})
    assert aws.partitions(DB, name) == {}
    call(DatabaseName=DB, TableName=name, **{field: items[:most]})
    sent = [(c.items, c.error) for c in strict.calls(operation)]
    assert sent == [(most + 1, "InvalidInputException"), (most, None)]


@pytest.mark.parametrize("bad", ["", "x" * 1025], ids=["empty", "1025-characters"])
def test_values_outside_1_to_1024_characters_are_refused(lax: Any, aws: Aws, bad: str) -> None:
    """A partition value is 1 to 1,024 characters (Glue API reference, PartitionInput: Values,
    and PartitionValueList): a batch holding one outside is refused whole, and so is a
    single-partition call."""
    name = table(aws, "lengths", [("a", "string"), ("b", "string")], [])
    good = sd(name, ["ok", "x" * 1024])
    with glue_error("InvalidInputException", "length"):
        lax.batch_create_partition(
            DatabaseName=DB, TableName=name, PartitionInputList=[good, sd(name, ["ok", bad])]
        )
    with glue_error("InvalidInputException", "length"):
        lax.create_partition(DatabaseName=DB, TableName=name, PartitionInput=sd(name, [bad, "b"]))
    with glue_error("InvalidInputException", "length"):
        lax.get_partition(DatabaseName=DB, TableName=name, PartitionValues=["ok", bad])
    assert aws.partitions(DB, name) == {}
    lax.batch_create_partition(DatabaseName=DB, TableName=name, PartitionInputList=[good])
    assert list(aws.partitions(DB, name)) == [("ok", "x" * 1024)]


def test_a_wrong_number_of_values_is_refused(aws: Aws) -> None:
    """A partition has one value per partition key of its table ("Working with partitions":
    the values are the partition key values, in order), else the call is refused."""
    name = table(aws, "count", [("a", "string"), ("b", "string"), ("c", "string")], [])
    for values in (["1", "2"], ["1", "2", "3", "4"]):
        with glue_error("InvalidInputException", "number of partition keys"):
            aws.glue.batch_create_partition(
                DatabaseName=DB, TableName=name, PartitionInputList=[sd(name, values)]
            )
        with glue_error("InvalidInputException", "number of partition keys"):
            aws.glue.batch_delete_partition(
                DatabaseName=DB, TableName=name, PartitionsToDelete=[{"Values": values}]
            )
    assert aws.partitions(DB, name) == {}


# --------------------------------------------------------------------------- timeouts


def test_injected_operation_timeouts_are_400s_botocore_does_not_retry(
    aws: Aws, strict: StrictLayer, hourly: str
) -> None:
    """OperationTimeoutException is a Glue error answered with HTTP 400 (Glue API reference,
    GetPartitions errors), which botocore's retry modes do not retry
    (aws/aws-sdk-pandas#2726). The shares are seeded: the same calls time out again after a
    reset."""
    strict.strictness.timeout_rate = 1.0
    strict.strictness.timeout_operations = frozenset({"GetPartitions"})
    strict.clear_calls()
    with glue_error("OperationTimeoutException"):
        aws.glue.get_partitions(DatabaseName=DB, TableName=hourly)
    assert len(strict.calls("GetPartitions")) == 1, "retried"
    assert aws.glue.get_table(DatabaseName=DB, Name=hourly)  # not in the operation set

    def timed_out() -> list[bool]:
        strict.reset()
        strict.strictness.timeout_rate = 0.5
        outcome = []
        for day in DAYS:
            try:
                aws.glue.get_partitions(
                    DatabaseName=DB, TableName=hourly, Expression=f"dt = '{day}'"
                )
                outcome.append(False)
            except ClientError:
                outcome.append(True)
        return outcome

    first = timed_out()
    assert 0 < sum(first) < len(first) and timed_out() == first


# --------------------------------------------------------------------------- Lake Formation


def test_hidden_table_is_not_found(aws: Aws, strict: StrictLayer, hourly: str) -> None:
    """A table the caller holds no Lake Formation permission on is, to Glue's API, a table that
    does not exist (Lake Formation permissions reference: without DESCRIBE the principal cannot
    see the table): its reads and writes answer EntityNotFoundException."""
    strict.strictness.hidden_tables.add((DB, hourly))
    with glue_error("EntityNotFoundException"):
        aws.glue.get_table(DatabaseName=DB, Name=hourly)
    with glue_error("EntityNotFoundException"):
        aws.glue.get_partitions(DatabaseName=DB, TableName=hourly)
    with glue_error("EntityNotFoundException"):
        aws.glue.batch_create_partition(
            DatabaseName=DB, TableName=hourly, PartitionInputList=[sd(hourly, ["2024-02-01", "00"])]
        )
    assert hourly not in {t["Name"] for t in aws.glue.get_tables(DatabaseName=DB)["TableList"]}
    strict.strictness.hidden_tables.clear()
    assert aws.glue.get_table(DatabaseName=DB, Name=hourly)["Table"]["Name"] == hourly


def test_denied_reads_and_writes_answer_lake_formation_access_denied(
    aws: Aws, strict: StrictLayer, hourly: str
) -> None:
    """Without SELECT/DESCRIBE the table's reads, without INSERT or DELETE its writes, answer
    AccessDeniedException "Insufficient Lake Formation permission(s)" (Lake Formation
    permissions reference; the message as Glue gives it in aws-samples/dbt-glue#548 and
    apache/superset#21945)."""
    new = [sd(hourly, ["2024-02-01", "00"])]
    no_read = f"Insufficient Lake Formation permission(s) on {hourly}"
    strict.strictness.denied_reads.add((DB, hourly))
    for read in (
        lambda: aws.glue.get_table(DatabaseName=DB, Name=hourly),
        lambda: aws.glue.get_partitions(DatabaseName=DB, TableName=hourly),
        lambda: aws.glue.get_partition(
            DatabaseName=DB, TableName=hourly, PartitionValues=["2024-01-01", "00"]
        ),
    ):
        with glue_error("AccessDeniedException", no_read):
            read()
    aws.glue.batch_create_partition(DatabaseName=DB, TableName=hourly, PartitionInputList=new)

    strict.strictness.denied_reads.clear()
    strict.strictness.denied_writes.add((DB, hourly))
    with glue_error("AccessDeniedException", f"Required Insert on {hourly}"):
        aws.glue.batch_create_partition(
            DatabaseName=DB, TableName=hourly, PartitionInputList=[sd(hourly, ["2024-02-02", "00"])]
        )
    with glue_error("AccessDeniedException", f"Required Delete on {hourly}"):
        aws.glue.batch_delete_partition(
            DatabaseName=DB, TableName=hourly, PartitionsToDelete=[{"Values": new[0]["Values"]}]
        )
    assert ("2024-02-01", "00") in aws.partitions(DB, hourly)  # reads still granted
    assert ("2024-02-02", "00") not in aws.partitions(DB, hourly)
    assert {c.error for c in strict.calls("BatchDeletePartition")} == {"AccessDeniedException"}


# --------------------------------------------------------------------------- the rest


def test_s3_and_moto_api_pass_through_untouched(aws: Aws, strict: StrictLayer) -> None:
    """Only Glue is held to Glue's rules: S3 calls (a HEAD keeps the object's length) and
    moto's own /moto-api/ reach moto as sent, and are not recorded as Glue calls."""
    aws.bucket("lake")
    aws.put("lake", ["a/b.json"], b"0123456789")
    assert aws.s3.head_object(Bucket="lake", Key="a/b.json")["ContentLength"] == 10
    assert aws.s3.get_object(Bucket="lake", Key="a/b.json")["Body"].read() == b"0123456789"
    assert strict.calls() == []


def test_reset_restores_the_defaults(aws: Aws, strict: StrictLayer) -> None:
    """Tests change the settings at run time; the `aws` fixture's reset puts them back."""
    default = strict.strictness.page_size
    strict.strictness.page_size = 1
    strict.strictness.denied_writes.add((DB, "x"))
    strict.reset()
    assert strict.strictness.page_size == default and strict.strictness.denied_writes == set()
    assert strict.calls() == []


def test_bare_moto_is_kinder(raw_moto_endpoint: str, aws: Aws, hourly: str) -> None:
    """Why the layer exists (the design's "Known differences between moto 5.2 and real AWS"):
    talking to bare moto, a 101-partition batch and an empty value are stored, and MaxResults
    is ignored. This test alone uses the raw moto endpoint, to show it."""
    glue, _ = validating_clients(raw_moto_endpoint)
    batch = [sd(hourly, ["2024-03-01", f"{i:03d}"]) for i in range(101)]
    assert not glue.batch_create_partition(
        DatabaseName=DB, TableName=hourly, PartitionInputList=batch
    ).get("Errors")
    lax = boto3.client(
        "glue",
        region_name=REGION,
        endpoint_url=raw_moto_endpoint,
        config=Config(parameter_validation=False),
    )
    lax.create_partition(DatabaseName=DB, TableName=hourly, PartitionInput=sd(hourly, ["", "x"]))
    page = glue.get_partitions(DatabaseName=DB, TableName=hourly, MaxResults=5)
    assert len(page["Partitions"]) == 250 + 101 + 1 and "NextToken" not in page
