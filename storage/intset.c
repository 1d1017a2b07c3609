/* intset (see intset.h): owns the sorted fixed-width integer array and its
 * width upgrades. It knows nothing of keys, set commands or when a set
 * should stop being an intset; storage/set.c decides that. */
#include "storage/intset.h"

#include "storage/mem.h"
#include "storage/storage.h"

#include <string.h>

struct intset {
    uint32_t width;  /* bytes per element: 2, 4 or 8 */
    uint32_t length; /* elements */
    char contents[]; /* 'length' native-endian integers of 'width' bytes, ascending */
};

static unsigned width_for(int64_t v) {
    if (v < INT32_MIN || v > INT32_MAX)
        return 8;
    if (v < INT16_MIN || v > INT16_MAX)
        return 4;
    return 2;
}

static int64_t get_with(const struct intset *is, size_t pos, unsigned width) {
    const char *p = is->contents + pos * width;
    if (width == 8) {
        int64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    if (width == 4) {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    int16_t v;
    memcpy(&v, p, 2);
    return v;
}

static void set_at(struct intset *is, size_t pos, int64_t v) {
    char *p = is->contents + pos * is->width;
    if (is->width == 8) {
        memcpy(p, &v, 8);
    } else if (is->width == 4) {
        int32_t v32 = (int32_t)v;
        memcpy(p, &v32, 4);
    } else {
        int16_t v16 = (int16_t)v;
        memcpy(p, &v16, 2);
    }
}

/* Binary search: true with '*pos' at 'v', or false with '*pos' where 'v'
 * would be inserted. */
static bool search(const struct intset *is, int64_t v, size_t *pos) {
    size_t lo = 0, hi = is->length;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t cur = get_with(is, mid, is->width);
        if (cur == v) {
            *pos = mid;
            return true;
        }
        if (cur < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return false;
}

struct intset *intset_new(void) {
    struct intset *is = mem_alloc(sizeof(*is));
    if (is == NULL)
        return NULL;
    is->width = 2;
    is->length = 0;
    return is;
}

void intset_free(struct intset *is) {
    mem_free(is);
}

struct intset *intset_dup(const struct intset *is) {
    size_t bytes = sizeof(*is) + (size_t)is->length * is->width;
    struct intset *copy = mem_alloc(bytes);
    if (copy != NULL)
        memcpy(copy, is, bytes);
    return copy;
}

/* Widens every element to 'width' in place (the allocation already holds
 * 'length' + 1 elements of the new width). Walks from the end so no element
 * is overwritten before it is read. */
static void upgrade(struct intset *is, unsigned width) {
    unsigned old_width = is->width;
    is->width = width;
    for (size_t i = is->length; i-- > 0;)
        set_at(is, i, get_with(is, i, old_width));
}

int intset_add(struct intset **isp, int64_t v) {
    struct intset *is = *isp;
    unsigned need = width_for(v);
    size_t pos = 0;
    if (need <= is->width && search(is, v, &pos))
        return 0;
    if (is->length == UINT32_MAX)
        return STORAGE_ENOMEM;
    unsigned width = need > is->width ? need : is->width;
    struct intset *grown = mem_realloc(is, sizeof(*is) + ((size_t)is->length + 1) * (size_t)width);
    if (grown == NULL)
        return STORAGE_ENOMEM;
    is = grown;
    *isp = is;
    if (width > is->width) {
        /* A value that needs a wider type is beyond every current element:
         * it goes first if negative, last if positive. */
        upgrade(is, width);
        pos = v < 0 ? 0 : is->length;
    }
    memmove(is->contents + (pos + 1) * width, is->contents + pos * width,
            (is->length - pos) * (size_t)width);
    set_at(is, pos, v);
    is->length++;
    return 1;
}

void intset_remove_at(struct intset **isp, size_t pos) {
    struct intset *is = *isp;
    size_t width = is->width;
    memmove(is->contents + pos * width, is->contents + (pos + 1) * width,
            (is->length - pos - 1) * width);
    is->length--;
    /* Shrinking cannot really fail; if it does, the larger block stays valid. */
    struct intset *shrunk = mem_realloc(is, sizeof(*is) + (size_t)is->length * width);
    if (shrunk != NULL)
        *isp = shrunk;
}

bool intset_remove(struct intset **isp, int64_t v) {
    size_t pos;
    if (width_for(v) > (*isp)->width || !search(*isp, v, &pos))
        return false;
    intset_remove_at(isp, pos);
    return true;
}

bool intset_contains(const struct intset *is, int64_t v) {
    size_t pos;
    return width_for(v) <= is->width && search(is, v, &pos);
}

size_t intset_len(const struct intset *is) {
    return is->length;
}

int64_t intset_get(const struct intset *is, size_t pos) {
    return get_with(is, pos, is->width);
}

unsigned intset_width(const struct intset *is) {
    return is->width;
}

size_t intset_mem_bytes(const struct intset *is) {
    return mem_usable(is);
}
