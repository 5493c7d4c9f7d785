"""The market-history archive: journal events as flat rows (the Parquet and Glue schema), the
Firehose transform, the local Parquet writer and the reader the replay and backtest use
(issue 18)."""
