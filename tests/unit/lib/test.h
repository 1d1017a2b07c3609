/* A small unit-test harness: TEST(name) defines a case, main runs them all
 * and prints "N passed, N failed". A fixture is a struct with setup and
 * teardown helpers written by each test file. */
#ifndef KR_TESTS_UNIT_LIB_TEST_H
#define KR_TESTS_UNIT_LIB_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *expr);
int test_main(int argc, char **argv);

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void) {                               \
        test_register(#name, test_##name);                                                         \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            test_fail(__FILE__, __LINE__, #expr);                                                  \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            char msg_[256];                                                                        \
            snprintf(msg_, sizeof(msg_), "%s == %s (%lld != %lld)", #a, #b, a_, b_);               \
            test_fail(__FILE__, __LINE__, msg_);                                                   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_MEM(p, len, str) CHECK((len) == strlen(str) && memcmp((p), (str), (len)) == 0)

#endif
