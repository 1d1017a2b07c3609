/* Helpers of the connection commands that CLIENT (cmd_client.c) shares. */
#ifndef KR_NODE_CMD_CONNECTION_H
#define KR_NODE_CMD_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>

struct client;
struct exec_ctx;
struct resp_out;

/* Sets ctx->client's name to 'name' ('len' bytes, copied), or removes it
 * when 'len' is 0, as Redis 7.0's clientSetNameOrReply. Returns false after
 * replying with the error when the name has spaces or special characters. */
bool connection_set_name(struct exec_ctx *ctx, const char *name, size_t len);
/* Appends the CLIENT INFO line of 'cl' (no newline) to 's', as the ACL
 * LOG's client-info shows it (defined in cmd_client.c). */
void client_info_append(struct resp_out *s, const struct client *cl);

#endif
