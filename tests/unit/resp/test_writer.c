/* RESP writer: each reply type in RESP2 and RESP3, as Redis 7.0 encodes it. */
#include "resp/writer.h"
#include "tests/unit/lib/test.h"

#define CHECK_OUT(o, str) CHECK_MEM((o)->buf, (o)->len, str)

TEST(scalars) {
    struct resp_out o;
    resp_out_init(&o, 2);
    resp_add_status(&o, "OK");
    resp_add_int(&o, -42);
    resp_add_bulk(&o, "a\0b", 3);
    resp_add_null(&o);
    CHECK(o.len == 25 && memcmp(o.buf, "+OK\r\n:-42\r\n$3\r\na\0b\r\n$-1\r\n", 25) == 0);
    resp_out_close(&o);
}

TEST(error_newlines_become_spaces) {
    struct resp_out o;
    resp_out_init(&o, 2);
    resp_add_error(&o, "ERR bad\r\nthing");
    CHECK_OUT(&o, "-ERR bad  thing\r\n");
    CHECK_EQ_INT(o.error_count, 1);
    resp_out_close(&o);
}

TEST(resp3_types_and_resp2_downgrades) {
    struct resp_out o2, o3;
    resp_out_init(&o2, 2);
    resp_out_init(&o3, 3);
    struct resp_out *both[] = {&o2, &o3};
    for (int i = 0; i < 2; i++) {
        resp_add_map(both[i], 1);
        resp_add_double(both[i], 1.5);
        resp_add_bool(both[i], true);
        resp_add_null_array(both[i]);
        resp_add_double(both[i], -1.0 / 0.0);
    }
    CHECK_OUT(&o2, "*2\r\n$3\r\n1.5\r\n:1\r\n*-1\r\n$4\r\n-inf\r\n");
    CHECK_OUT(&o3, "%1\r\n,1.5\r\n#t\r\n_\r\n,-inf\r\n");
    resp_out_close(&o2);
    resp_out_close(&o3);
}

TEST(deferred_length) {
    struct resp_out o;
    resp_out_init(&o, 2);
    resp_add_status(&o, "X");
    size_t token = resp_begin_deferred(&o);
    for (int i = 0; i < 12; i++)
        resp_add_int(&o, i % 10);
    resp_end_deferred(&o, token, '*', 12);
    CHECK(o.len > 9 && memcmp(o.buf, "+X\r\n*12\r\n:0\r\n:1\r\n", 17) == 0);
    resp_out_close(&o);
}

TEST(discard_sink_writes_nothing) {
    struct resp_out o;
    resp_out_init_discard(&o);
    resp_add_bulk(&o, "abc", 3);
    resp_add_array(&o, 3);
    CHECK_EQ_INT(o.len, 0);
    CHECK(o.buf == NULL);
    resp_out_close(&o);
}

TEST(ll2str_extremes) {
    char buf[24];
    size_t n = resp_ll2str(buf, -9223372036854775807LL - 1);
    CHECK_MEM(buf, n, "-9223372036854775808");
    n = resp_ll2str(buf, 0);
    CHECK_MEM(buf, n, "0");
    /* Around the short path for 0..99. */
    static const long long values[] = {9, 10, 42, 99, 100, 101, -1, -99, -100};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char want[24];
        n = resp_ll2str(buf, values[i]);
        snprintf(want, sizeof(want), "%lld", values[i]);
        CHECK_MEM(buf, n, want);
    }
}
