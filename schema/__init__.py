"""The wire contract: msgspec Structs for every request, response and event, and the SQL migrations.

Imported by backend, realtime and mobile; imports none of them.
"""
