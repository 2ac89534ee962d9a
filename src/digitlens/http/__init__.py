"""The HTTP kit the explorer (digitlens.web) and the classroom server (digitlens.classroom)
share: one JSON envelope, one table from error type to status, one guard, one request check,
one server-sent-event stream, one way to build an app from a route table."""
