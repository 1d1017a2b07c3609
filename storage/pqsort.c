/* Partial quicksort (see pqsort.h): three-way partitioning around a
 * median-of-three (ninther above 40 elements) pivot, insertion sort below 7
 * elements, and recursion only into partitions that overlap the wanted
 * range. Owns nothing; it only permutes the caller's array. */
#include "storage/pqsort.h"

#include <stdbool.h>
#include <stdint.h>

static void swap_bytes(unsigned char *a, unsigned char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

struct sort_ctx {
    size_t size;
    pqsort_cmp_fn cmp;
    void *arg;
    /* The wanted range as byte addresses: first byte, last byte (one
     * before the first when nothing is wanted). */
    uintptr_t want_lo, want_hi;
};

static int cmp_at(const struct sort_ctx *s, const unsigned char *a, const unsigned char *b) {
    return s->cmp(a, b, s->arg);
}

static unsigned char *median_of_three(const struct sort_ctx *s, unsigned char *a, unsigned char *b,
                                      unsigned char *c) {
    if (cmp_at(s, a, b) < 0) {
        if (cmp_at(s, b, c) < 0)
            return b;
        return cmp_at(s, a, c) < 0 ? c : a;
    }
    if (cmp_at(s, b, c) > 0)
        return b;
    return cmp_at(s, a, c) < 0 ? a : c;
}

/* Whether the bytes [first, first + len) miss the wanted range entirely. */
static bool outside_wanted(const struct sort_ctx *s, const unsigned char *first_byte, size_t len) {
    uintptr_t first = (uintptr_t)first_byte, last = first + len - 1;
    return (s->want_lo < first && s->want_hi < first) || (s->want_lo > last && s->want_hi > last);
}

static size_t min_size(size_t a, size_t b) {
    return a < b ? a : b;
}

static void sort_part(const struct sort_ctx *s, unsigned char *a, size_t n) {
    const size_t es = s->size;
    for (;;) {
        if (n < 7) {
            for (unsigned char *pm = a + es; pm < a + n * es; pm += es)
                for (unsigned char *pl = pm; pl > a && cmp_at(s, pl - es, pl) > 0; pl -= es)
                    swap_bytes(pl, pl - es, es);
            return;
        }
        unsigned char *pm = a + (n / 2) * es;
        if (n > 7) {
            unsigned char *pl = a;
            unsigned char *pn = a + (n - 1) * es;
            if (n > 40) {
                size_t d = (n / 8) * es;
                pl = median_of_three(s, pl, pl + d, pl + 2 * d);
                pm = median_of_three(s, pm - d, pm, pm + d);
                pn = median_of_three(s, pn - 2 * d, pn - d, pn);
            }
            pm = median_of_three(s, pl, pm, pn);
        }
        swap_bytes(a, pm, es); /* the pivot goes first */

        /* [a, pa): equal to the pivot, [pa, pb): less, (pc, pd]: greater,
         * (pd, end): equal. */
        unsigned char *pa = a + es, *pb = a + es;
        unsigned char *pc = a + (n - 1) * es, *pd = a + (n - 1) * es;
        for (;;) {
            int r;
            while (pb <= pc && (r = cmp_at(s, pb, a)) <= 0) {
                if (r == 0) {
                    swap_bytes(pa, pb, es);
                    pa += es;
                }
                pb += es;
            }
            while (pb <= pc && (r = cmp_at(s, pc, a)) >= 0) {
                if (r == 0) {
                    swap_bytes(pc, pd, es);
                    pd -= es;
                }
                pc -= es;
            }
            if (pb > pc)
                break;
            swap_bytes(pb, pc, es);
            pb += es;
            pc -= es;
        }

        /* Move the equal runs from both ends into the middle. */
        unsigned char *pn = a + n * es;
        size_t r = min_size((size_t)(pa - a), (size_t)(pb - pa));
        if (r > 0)
            swap_bytes(a, pb - r, r);
        r = min_size((size_t)(pd - pc), (size_t)(pn - pd) - es);
        if (r > 0)
            swap_bytes(pb, pn - r, r);

        r = (size_t)(pb - pa); /* bytes of the "less" part, now at the front */
        if (r > es && !outside_wanted(s, a, r))
            sort_part(s, a, r / es);
        r = (size_t)(pd - pc); /* bytes of the "greater" part, now at the end */
        if (r <= es)
            return;
        a = pn - r;
        n = r / es;
        if (outside_wanted(s, a, r))
            return;
    }
}

void pqsort(void *base, size_t n, size_t size, pqsort_cmp_fn cmp, void *arg, size_t lo,
            size_t end) {
    uintptr_t a = (uintptr_t)base;
    struct sort_ctx s = {size, cmp, arg, a + lo * size, a + end * size - 1};
    sort_part(&s, base, n);
}
