"""What deploys is what is tested: the synthesized templates checked against what the code does.

- ``cfn``: the templates with their intrinsics resolved (``Stacks``, ``Resolver``), each
  resource's ``Ref`` and attributes made up in its service's ARN format (``physical``);
- ``synth``: the CDK app synthesized in a child process (for the e2e check);
- ``policy``: a small IAM policy evaluator (identity, resource and key policies, conditions);
- ``calls``: a recorded call and one (IAM action, resource) requirement of it;
- ``actions``: an AWS API call -> the (IAM action, resource ARN) pairs that authorize it (KMS and
  SQS included); ``service_keys``: the KMS requests its service makes for the caller;
- ``deployment``: one region's principals, their roles and policies, resources and keys;
- ``translate``: a call the local stack made -> the call the deployment would make;
- ``check``: every recorded call (``local.recording``) against its principal's deployed policies;
- ``contract``: a deployable's settings model against the environment the template gives it.
"""
