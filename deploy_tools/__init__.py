"""Delivery tooling: build the function and layer zips, deploy them to Lambda, notify Teams.

Lives outside ``modules/`` on purpose: none of it ships inside ``function.zip``.
Importing the package is cheap and needs only the standard library; the parts that talk
to AWS import boto3 themselves.
"""
