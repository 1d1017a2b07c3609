/* Error codes shared by the storage modules. */
#ifndef KR_STORAGE_STORAGE_H
#define KR_STORAGE_STORAGE_H

#define STORAGE_ERRORS(X)                                                                          \
    X(STORAGE_OK, 0, "ok")                                                                         \
    X(STORAGE_ENOMEM, -1, "out of memory")                                                         \
    X(STORAGE_ERANGE, -2, "value out of range")                                                    \
    X(STORAGE_ECORRUPT, -3, "corrupt data")

enum storage_error {
#define X(name, value, text) name = value,
    STORAGE_ERRORS(X)
#undef X
};

const char *storage_strerror(int code);

#endif
