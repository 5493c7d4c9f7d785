#!/usr/bin/env python3
"""CDK entry point: the exchange's primary (us-east-1) and DR (us-west-2) stacks."""

from stacks.composition import build_app

build_app().synth()
