"""HTTP(S) GETs from servers nobody vouches for: every answer bounded in size and in time.

A site's server, a mirror, the published status a health check reads back, a registry a pull
streams from: any of them may be hostile or broken. So every request here has

- a total deadline (`FetchLimits.deadline`): each read off the socket waits at most the time
  left, so a server that drips one byte every second, or sends interim `100 Continue` answers
  forever, ends in `DeadlineExceeded` (a retry may pass: callers exit 4), however many reads it
  takes;
- a cap on the body as sent (`FetchLimits.max_bytes`) and, for a gzip `Content-Encoding`, on the
  body as decoded (`FetchLimits.max_decoded`): a `Content-Length` over the cap is refused before a
  byte of the body is read, a chunked or endless body at the cap, a gzip bomb at the decoded cap
  (`TooLarge`: the file cannot be what it claims, callers exit 1);
- header values read as the protocol allows them and no further: a `Content-Length` that is not a
  plain decimal, a chunk size longer than 16 hex digits, a line over 64 KiB, more than 100 headers
  are `ProtocolError`s;
- redirects followed only to http and https, never from https down to http, at most
  `MAX_REDIRECTS` times; headers named sensitive (credentials) are sent only to the origin they
  were meant for (`RedirectRefused` otherwise, or the header dropped);
- no credentials in a URL (`user:secret@host`): they would end up in messages and logs.

Connections are kept alive, one per server and thread (`Pool`), since a query is one or two
small conditional GETs and opening a connection for each would cost more than the answers. A
proxy configured in the environment (`http_proxy`, `https_proxy`, `no_proxy`) is used as urllib
would: plain requests in absolute form for http, a CONNECT tunnel for https. TLS certificates are
verified (`ssl` is loaded only for https: it takes longer to load than a whole query).

`web.fetch.get` reads a whole answer; `web.fetch.stream` hands a body over unread, for a file of
any size: its head within the deadline, then each read of the body within the idle time only
(`FetchLimits.timeout`), since a large blob over a slow link takes as long as it takes while a
server that stops sending must still be found out. The other modules are their parts. Standard
library only: the reader stands on it, and so does the health check.
"""
