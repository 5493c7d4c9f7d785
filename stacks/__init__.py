"""The CDK app's stacks and constructs. ``app.py`` composes them; see ``composition.build_app``."""
