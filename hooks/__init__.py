"""zkstash hooks: Metacontroller webhooks, one pure module per controller."""
