/* The Prometheus endpoint: with `metrics-port` > 0, the node answers
 * `GET /metrics` over plain HTTP/1.1 on its first `bind` address and that
 * port with the figures of INFO raft (node/raft_info.h) and basic server
 * figures (clients, memory, commands, keys) in Prometheus's text format
 * (version 0.0.4). Every other path gets 404, other methods 405, anything
 * that is not an HTTP request 400; each connection answers one request and
 * is closed. keyraft's own directive (Redis has none). */
#ifndef KR_NODE_METRICS_H
#define KR_NODE_METRICS_H

#include <stddef.h>

/* Starts listening when cfg.metrics_port > 0 (else does nothing). Call
 * after server_init, on the server's loop. Returns 0, or -1 after logging
 * why (the address or port cannot be bound). The listener and its
 * connections are closed with the loop's other handles (server_close). */
int metrics_start(void);

/* Writes the metrics page (the HTTP body) into 'buf' (NUL-terminated,
 * truncated to 'len'); returns the length it needed. */
size_t metrics_render(char *buf, size_t len);

#endif
