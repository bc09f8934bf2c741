"""The partition-sync function's modules, in layers; imports only run down the list.

0. The command line: CommandLine, imported by main.main() alone (never in Lambda).
1. Modes: FanOut (scatter and workers, over PartitionSync's loop), PartitionSync (the scheduled
   run), EventSync (S3 events), Continuation (where cut runs resume; self-invocation).
2. Per table: CatalogRead (the scheduled run's catalog reads), OrderedCreate (registering in
   order, the deadline inside a table), TableSpec (one view of a table, one way it ends in its
   entry), TableScan, Removal, TableControl (the table's properties).
3. Sides: GlueAPISetup, GlueExpressions and PartitionIndex (Glue); S3Listing,
   S3PrefixGeneration, S3Events (S3); WorkQueue (SQS: fan-out's work messages).
4. Leaves: TableReport, TimeKeys, Settings, Metrics, AwsErrors, AwsClientObj, ProcessLogger,
   Render (the answer as a table for people: the command line and make demo).
"""
