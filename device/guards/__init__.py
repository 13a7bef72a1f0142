"""What the surfaces may send: strict JSON from the network, and rate limits per action and surface."""
