"""Readable reasons for AWS errors, for the summary and the logs.

Every module that reports a failed call words it here, so that an operator reads the same
thing for the same trouble whichever mode met it. Lake Formation denials name the grant to ask
for: on a governed lake, IAM alone is not enough (Lake Formation permissions reference).
"""

from __future__ import annotations

from botocore.exceptions import ClientError

# The Lake Formation permission on a table that each Glue operation of the function needs
# (Lake Formation developer guide, "Lake Formation permissions reference").
LAKE_FORMATION_PERMISSION = {
    "GetDatabases": "DESCRIBE (on the database)",
    "GetTables": "DESCRIBE",
    "GetTable": "DESCRIBE",
    "GetPartitions": "SELECT",
    "GetPartition": "SELECT",
    "BatchGetPartition": "SELECT",
    "BatchCreatePartition": "INSERT",
    "CreatePartition": "INSERT",
    "BatchDeletePartition": "DELETE",
    "GetPartitionIndexes": "DESCRIBE",
    "CreatePartitionIndex": "ALTER",
}


def describe(exc: BaseException) -> str:
    """A short, readable reason for an AWS error; a Lake Formation denial names the table, the
    operation and the permission to grant."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "Error"), err.get("Message", "")
        text = f"{code}: {message}".rstrip(": ")
        if code == "AccessDeniedException" and "lake formation" in message.lower():
            return f"{text} ({lake_formation_hint(exc)})"
        if code == "EntityNotFoundException":  # Lake Formation hides what a role may not see
            return f"{text} (not found, or not visible to this role: Lake Formation grants?)"
        return text
    return f"{type(exc).__name__}: {exc}"


def lake_formation_hint(exc: ClientError) -> str:
    """What to grant for the denied operation, from the request the error answers."""
    operation = exc.operation_name
    permission = LAKE_FORMATION_PERMISSION.get(operation, "the table's permissions")
    return f"glue:{operation} needs the Lake Formation {permission} permission on the table"


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a failed call, or None for anything else."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None
