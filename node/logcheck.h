/* The check of <dir>/raft at startup, before the Raft library reads it
 * (raft/logfile.h does the reading; this module decides and logs).
 *
 * canonical/raft 0.15 on its own turns damage into silent data loss: a
 * checksum mismatch in an open segment makes it drop that batch and every
 * later one, a damaged closed segment is renamed away by its auto-recovery
 * (keyraft turns that off), and a segment cut short crashes it. So the
 * server looks first: a torn tail of the last open segment (a crash in the
 * middle of a write; those entries were never acknowledged) is cut, with a
 * warning; any other damage stops the start with a log line naming the file,
 * the byte offset and what is wrong. `keyraft-check <dir>` prints the full
 * report offline. */
#ifndef KR_NODE_LOGCHECK_H
#define KR_NODE_LOGCHECK_H

/* Checks the Raft directory 'raft_dir' (a missing one is fine). Returns 0
 * when the library may read it (a torn tail was cut), or -1 after logging
 * why it must not. */
int logcheck_raft_dir(const char *raft_dir);

#endif
