"""The link with the regional (city / autonomous-region) trading platform: the push mapping (payloads), the
transactional outbox and its delivery (outbox), and a reference receiver (receiver). docs/regional-exchange.md."""
