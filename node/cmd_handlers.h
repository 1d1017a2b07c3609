/* Prototypes of every command handler named in node/commands.def. */
#ifndef KR_NODE_CMD_HANDLERS_H
#define KR_NODE_CMD_HANDLERS_H

struct exec_ctx;

#define COMMAND(id, ...) void cmd_##id(struct exec_ctx *ctx);
#define CONTAINER(id, ...)
#define SUBCOMMAND(par, id, ...) void cmd_##par##_##id(struct exec_ctx *ctx);
#include "node/commands.def"
#undef COMMAND
#undef CONTAINER
#undef SUBCOMMAND

#endif
