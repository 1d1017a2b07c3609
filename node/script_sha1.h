/* SHA-1 (FIPS 180-4) for script identities: EVALSHA names a script by the
 * lowercase hex SHA-1 of its body, and redis.sha1hex exposes the same hash
 * to scripts. Not for security. */
#ifndef KR_NODE_SCRIPT_SHA1_H
#define KR_NODE_SCRIPT_SHA1_H

#include <stddef.h>

/* Writes the 40 lowercase hex digits of SHA-1('data', 'len') and a NUL
 * into 'hex' (41 bytes). */
void script_sha1_hex(char hex[41], const char *data, size_t len);

#endif
