"""Integration tests of the notifications: moto SNS/SQS/SES/Cognito/DynamoDB and the real ledger."""
