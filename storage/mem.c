/* Accounted allocation (see mem.h). Single-threaded by design: the keyspace
 * is only touched from the event loop thread (and a forked snapshot child,
 * which has its own copy of the counter). */
#include "storage/mem.h"

#include <malloc.h>
#include <stdlib.h>

static size_t used_bytes;
static long fault_countdown = -1;
static int fault_repeat;

static int should_fail(void) {
    if (fault_countdown < 0)
        return 0;
    if (fault_countdown > 0) {
        fault_countdown--;
        return 0;
    }
    if (!fault_repeat)
        fault_countdown = -1;
    return 1;
}

void *mem_alloc(size_t size) {
    if (should_fail())
        return NULL;
    void *p = malloc(size);
    if (p != NULL)
        used_bytes += malloc_usable_size(p);
    return p;
}

void *mem_calloc(size_t size) {
    if (should_fail())
        return NULL;
    void *p = calloc(1, size);
    if (p != NULL)
        used_bytes += malloc_usable_size(p);
    return p;
}

void *mem_realloc(void *ptr, size_t size) {
    if (ptr == NULL)
        return mem_alloc(size);
    if (should_fail())
        return NULL;
    size_t old = malloc_usable_size(ptr);
    void *p = realloc(ptr, size);
    if (p != NULL)
        used_bytes = used_bytes - old + malloc_usable_size(p);
    return p;
}

void mem_free(void *ptr) {
    if (ptr == NULL)
        return;
    used_bytes -= malloc_usable_size(ptr);
    free(ptr);
}

size_t mem_usable(const void *ptr) {
    return ptr ? malloc_usable_size((void *)ptr) : 0;
}

size_t mem_used(void) {
    return used_bytes;
}

void mem_set_fault(long countdown, int repeat) {
    fault_countdown = countdown;
    fault_repeat = repeat;
}
