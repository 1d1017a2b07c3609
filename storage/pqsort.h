/* Partial quicksort: sorts an array just enough that the elements at
 * positions [lo, end) are the ones a full sort would put there, in order.
 *
 * This is the algorithm of Redis's pqsort (Bentley and McIlroy's
 * "Engineering a Sort Function" quicksort, which skips the partitions that
 * lie wholly outside [lo, end)), followed step for step: it is not stable,
 * and GEO and SORT results whose keys tie come out in the order Redis gives
 * them only if the same comparisons and swaps happen in the same order. */
#ifndef KR_STORAGE_PQSORT_H
#define KR_STORAGE_PQSORT_H

#include <stddef.h>

/* Returns <0, 0 or >0 as 'a' sorts before, with or after 'b'. */
typedef int (*pqsort_cmp_fn)(const void *a, const void *b, void *arg);

/* Sorts 'n' elements of 'size' bytes at 'base' so that positions
 * 'lo'..'end'-1 (0-based, lo <= end <= n) hold their sorted elements; with
 * lo == end it still partitions as Redis does. 'arg' goes to 'cmp'. */
void pqsort(void *base, size_t n, size_t size, pqsort_cmp_fn cmp, void *arg, size_t lo, size_t end);

#endif
