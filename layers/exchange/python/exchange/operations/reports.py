"""Where the reconciliation's reports go: the reports bucket, one object per run."""

from typing import Any


class S3ReportSink:
    """``ReportSink`` on S3. The request names no encryption: the bucket's default (SSE-KMS under
    its own key) applies to every object written without encryption headers, and a request that
    named another key or algorithm would override it."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, key: str, body: bytes) -> str:
        self._client.put_object(
            Bucket=self._bucket, Key=key, Body=body, ContentType="application/json"
        )
        return f"s3://{self._bucket}/{key}"
