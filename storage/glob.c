/* Glob matching (see glob.h). Iterative, remembering only the last '*':
 * a later '*' makes backtracking past an earlier one pointless, so the
 * match is O(pattern * string) even for patterns like "a*a*a*a*b", which
 * make naive recursive matchers exponential. */
#include "storage/glob.h"

#include <ctype.h>

static char fold(char c, bool nocase) {
    return nocase ? (char)tolower((unsigned char)c) : c;
}

/* Matches one character class at pattern[*pi] ('[' already seen); advances
 * *pi past the closing ']' (or to the end when it is missing, as Redis). */
static bool match_class(const char *p, size_t plen, size_t *pi, char c, bool nocase) {
    size_t i = *pi + 1;
    bool negate = false, matched = false;
    if (i < plen && p[i] == '^') {
        negate = true;
        i++;
    }
    for (; i < plen && p[i] != ']'; i++) {
        if (p[i] == '\\' && i + 1 < plen) {
            i++;
            if (fold(p[i], nocase) == fold(c, nocase))
                matched = true;
        } else if (i + 2 < plen && p[i + 1] == '-' && p[i + 2] != ']') {
            char lo = fold(p[i], nocase), hi = fold(p[i + 2], nocase), x = fold(c, nocase);
            if (lo > hi) {
                char t = lo;
                lo = hi;
                hi = t;
            }
            if (x >= lo && x <= hi)
                matched = true;
            i += 2;
        } else if (fold(p[i], nocase) == fold(c, nocase)) {
            matched = true;
        }
    }
    *pi = i < plen ? i + 1 : i;
    return negate ? !matched : matched;
}

bool glob_match(const char *p, size_t plen, const char *s, size_t slen, bool nocase) {
    size_t pi = 0, si = 0;
    size_t star_p = (size_t)-1, star_s = 0;
    while (si < slen) {
        if (pi < plen) {
            char pc = p[pi];
            if (pc == '*') {
                while (pi < plen && p[pi] == '*')
                    pi++;
                if (pi == plen)
                    return true;
                star_p = pi;
                star_s = si;
                continue;
            }
            if (pc == '?') {
                pi++;
                si++;
                continue;
            }
            if (pc == '[') {
                size_t next = pi;
                if (match_class(p, plen, &next, s[si], nocase)) {
                    pi = next;
                    si++;
                    continue;
                }
            } else {
                size_t lit = pi;
                if (pc == '\\' && pi + 1 < plen)
                    lit = pi + 1;
                if (fold(p[lit], nocase) == fold(s[si], nocase)) {
                    pi = lit + 1;
                    si++;
                    continue;
                }
            }
        }
        /* Mismatch: let the last '*' absorb one more character. */
        if (star_p == (size_t)-1)
            return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}
