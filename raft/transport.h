/* A canonical/raft 0.15 `struct raft_uv_transport` that shares one TCP port
 * (the cluster bus port) between Raft and the other node-to-node protocols
 * (design.md, contract point 5).
 *
 * Wire format. Every connection to the port starts with an 8-byte preamble
 * that names its protocol:
 *
 *   "KRRAFT01"  a Raft stream. What follows is exactly what libraft's own
 *               TCP transport (raft_uv_tcp) sends, and what libraft's uv I/O
 *               code then expects on the stream:
 *                 u64 LE  handshake protocol version, 1
 *                 u64 LE  id of the connecting server (> 0)
 *                 u64 LE  L, the length of the address field
 *                 L bytes the connecting server's own address ("ip:port"),
 *                         NUL-terminated and zero-padded to a multiple of 8
 *               then libraft's RPC messages (u64 LE message type, u64 LE
 *               header length, header, optional payload), which this module
 *               never reads.
 *   "KRBUS001"  the cluster bus: everything after the preamble belongs to the
 *               bus receiver registered with transport_set_bus_cb.
 *
 * Any other preamble, a Raft handshake with another version or id 0, an
 * address field longer than TRANSPORT_MAX_ADDRESS or without a NUL, a
 * bus preamble while no bus receiver is registered, a peer that
 * disconnects early, or one that has not completed its preamble and
 * handshake within the handshake timeout, gets its connection closed.
 *
 * The listener reads at most the bytes still missing from the current
 * preamble or handshake field, so bytes the peer sent right behind them
 * (even in the same TCP segment) are left in the socket for the receiver.
 *
 * Life cycle (the same as raft_uv_tcp): transport_init, optionally
 * transport_set_bind_address / transport_set_bus_cb / ..., then
 * raft_uv_init(io, loop, dir, t). libraft calls t->init with the member's id
 * and address ("ip:busport"), t->listen from raft_start (the port is bound
 * then, on the member's address unless a bind address was set), and
 * t->close from raft_close. Once raft_close's callback has run (or if Raft
 * never initialised the transport), free it with transport_close.
 * libraft owns t->data; this module uses only t->impl.
 *
 * Addresses are numeric: "a.b.c.d:port", "[v6]:port" or "v6:port" (the last
 * colon separates the port). No name resolution.
 *
 * Everything runs on the loop thread. */
#ifndef KR_RAFT_TRANSPORT_H
#define KR_RAFT_TRANSPORT_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define TRANSPORT_PREAMBLE_LEN  8
#define TRANSPORT_PREAMBLE_RAFT "KRRAFT01"
#define TRANSPORT_PREAMBLE_BUS  "KRBUS001"
/* libraft's TCP handshake version (raft_uv_tcp sends 1). */
#define TRANSPORT_RAFT_HANDSHAKE_VERSION 1
/* Longest address field accepted in a Raft handshake, padding included. */
#define TRANSPORT_MAX_ADDRESS 512
/* Default time a new connection gets to send its preamble and handshake. */
#define TRANSPORT_HANDSHAKE_TIMEOUT_MS 10000

/* Receives a bus connection whose preamble has been read, with reading
 * stopped; the next byte it reads is the first one after the preamble.
 * Takes ownership of 'stream' (its data field is the receiver's): close it
 * with uv_close and then free it with transport_stream_free (which can be
 * the close callback itself). Not called once the transport is closing. */
typedef void (*transport_bus_cb)(void *arg, uv_tcp_t *stream);

/* Sets up 't' (caller-allocated) on 'loop'. Returns 0 or RAFT_NOMEM. */
int transport_init(struct raft_uv_transport *t, uv_loop_t *loop);
/* Frees what transport_init allocated: after raft_close's callback has
 * run, or if the transport was never handed to raft_uv_init / raft_init. */
void transport_close(struct raft_uv_transport *t);

/* Binds the listener to 'address' (e.g. "0.0.0.0:16379") instead of the
 * member's own address. Before raft_start. Returns 0, RAFT_INVALID for an
 * unparsable address, or RAFT_NOMEM. */
int transport_set_bind_address(struct raft_uv_transport *t, const char *address);
/* Routes bus connections to 'cb' (NULL: close them). Any time. */
void transport_set_bus_cb(struct raft_uv_transport *t, transport_bus_cb cb, void *arg);

/* Where member 'id' is now: fills 'buf' ('len' bytes) with its "ip:port"
 * and returns true, or returns false to dial the address the Raft
 * configuration holds for it. Lets a member whose address changed since it
 * joined (a container restarted with a new IP) be found by its id. */
typedef bool (*transport_resolve_fn)(void *arg, uint64_t id, char *buf, size_t len);
/* Asks 'fn' (NULL: none) before every outgoing connection. Any time. */
void transport_set_resolver(struct raft_uv_transport *t, transport_resolve_fn fn, void *arg);
/* Changes the handshake timeout (milliseconds, > 0). Before raft_start. */
void transport_set_handshake_timeout(struct raft_uv_transport *t, unsigned timeout_ms);

/* Frees a stream handed out by this transport, once uv_close has finished
 * with it (usable as the uv_close callback). */
void transport_stream_free(uv_handle_t *handle);

#endif
