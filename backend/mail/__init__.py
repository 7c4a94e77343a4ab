"""Mail: an e-mail outbox written with the change, a worker that sends it over SMTP, and a local sink."""
