/* Accounted allocation for everything stored in the keyspace. Tracks the
 * bytes in use (INFO used_memory, maxmemory) and offers a fault hook so tests
 * can make the Nth allocation fail. Failure returns NULL: callers unwind and
 * report STORAGE_ENOMEM, they never abort. */
#ifndef KR_STORAGE_MEM_H
#define KR_STORAGE_MEM_H

#include <stddef.h>

void *mem_alloc(size_t size);
void *mem_calloc(size_t size);
void *mem_realloc(void *ptr, size_t size);
void mem_free(void *ptr);
/* Bytes the allocator really reserved for 'ptr' (what used_memory counts). */
size_t mem_usable(const void *ptr);
/* Sum of mem_usable() over live allocations. */
size_t mem_used(void);
/* Test hook: after 'countdown' more successful allocations, fail the next
 * one, then (if 'repeat') every later one. countdown < 0 disables. */
void mem_set_fault(long countdown, int repeat);

#endif
