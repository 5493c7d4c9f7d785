"""The REST API's endpoints, one module per area; ``ExchangeClient`` puts them together."""
